// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @notice What the escrow's sink must offer: `fund` pulls the settled OPEN and counts it as funding.
interface IRewardsSink {
    function fund(uint256 amount) external;
}

/// @title InferenceEscrow — prepaid OPEN balances that the node debits per epoch, only within what each payer signed
/// @notice Callers deposit OPEN and sign a spend authorization (EIP-712 `SpendAuthorization`, or `approveSpend` on
///         chain): a cap, an expiry and a scope (API key / model, enforced by the node). Once per epoch a SETTLER
///         debits each caller's usage and moves the total to the sink (the RewardsDistributor, through its
///         `fund`, so it counts as funding there). Withdrawals are two-step: request, then withdraw after
///         `withdrawalDelay`.
/// @dev Settlement never reverts because of one account: beyond the authorization (or after its expiry) nothing
///      is debited and DebitRefused is emitted; with a short balance what is there is taken and Shortfall is
///      emitted. Replacing an authorization cannot escape usage already served: what the previous one still
///      allowed beyond the new cap stays settleable ("carry") for `withdrawalDelay`, like a pending withdrawal.
/// @dev Pending-withdrawal rule: a requested amount STAYS in the caller's balance and stays debitable by
///      settlement until it is withdrawn — the delay exists so that usage already served can still be settled.
///      `withdraw` pays min(requested, balance at that time). The node should treat
///      `balanceOf(a) - pendingWithdrawal(a).amount` as what the caller may still spend on new requests.
///      Invariant: sum of balances == token.balanceOf(this) (tokens sent directly, not via deposit, excepted).
contract InferenceEscrow is AccessControl, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice Role of the node account that settles epochs.
    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    /// @notice Upper bound for `withdrawalDelay`, so that funds can never be locked for long.
    uint64 public constant MAX_WITHDRAWAL_DELAY = 30 days;
    /// @notice Largest step between two settled epochs (an epoch near 2^64 would brick settlement).
    uint64 public constant MAX_EPOCH_JUMP = 2 ** 32;
    /// @notice EIP-712 type hash of a spend authorization.
    bytes32 public constant SPEND_AUTHORIZATION_TYPEHASH =
        keccak256("SpendAuthorization(address payer,bytes32 scope,uint256 cap,uint64 expiry,uint256 nonce)");

    /// @notice A payer's signed consent: the settler may debit up to `cap` until `expiry`.
    /// scope = bytes32(0): any model / API key; otherwise the node enforces it off chain.
    struct SpendAuthorization {
        address payer;
        bytes32 scope;
        uint256 cap;
        uint64 expiry;
        uint256 nonce;
    }

    struct Authorization {
        bytes32 scope;
        uint256 cap;
        uint256 spent;
        uint64 expiry;
        uint256 nonce;
        /// Unspent remainder of the replaced authorization, settleable until `carryUntil`.
        uint256 carry;
        uint64 carryUntil;
    }

    struct PendingWithdrawal {
        uint256 amount;
        /// Timestamp from which `withdraw` may be called; 0 = no request.
        uint64 availableAt;
    }

    /// @notice The OPEN token.
    IERC20 public immutable token;
    /// @notice Where settled OPEN goes (the RewardsDistributor).
    address public sink;
    /// @notice Seconds between `requestWithdrawal` and `withdraw`.
    uint64 public withdrawalDelay;
    /// @notice Last settled epoch; settlements must use a strictly greater epoch.
    uint64 public lastSettledEpoch;
    /// @notice Sum of all balances.
    uint256 public totalBalance;

    mapping(address account => uint256) private _balances;
    mapping(address account => PendingWithdrawal) private _pending;
    mapping(address payer => Authorization) private _auth;
    mapping(address payer => mapping(uint256 nonce => bool)) private _nonceUsed;

    event Deposited(address indexed account, address indexed from, uint256 amount, uint256 newBalance);
    event WithdrawalRequested(address indexed account, uint256 amount, uint64 availableAt);
    event WithdrawalCancelled(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount, uint256 newBalance);
    event Debited(uint64 indexed epoch, address indexed account, uint256 amount, uint256 newBalance);
    event DebitRefused(uint64 indexed epoch, address indexed account, uint256 requested, uint256 authorizedRemaining);
    event Shortfall(uint64 indexed epoch, address indexed account, uint256 requested, uint256 debited);
    event SpendAuthorized(
        address indexed payer, bytes32 indexed scope, uint256 cap, uint64 expiry, uint256 nonce, uint256 carry, uint64 carryUntil
    );
    event EpochSettled(uint64 indexed epoch, uint256 total, uint256 accounts, bytes32 recordsRoot, address sink);
    event SinkUpdated(address indexed previousSink, address indexed newSink);
    event WithdrawalDelayUpdated(uint64 previousDelay, uint64 newDelay);

    error ZeroAddress();
    error ZeroAmount();
    error InsufficientBalance(address account, uint256 balance, uint256 amount);
    error NoPendingWithdrawal(address account);
    error WithdrawalNotReady(address account, uint64 availableAt, uint64 now_);
    error EpochNotIncreasing(uint64 epoch, uint64 lastSettledEpoch);
    error LengthMismatch(uint256 accounts, uint256 amounts);
    error DelayTooLong(uint64 delay, uint64 maxDelay);
    error SinkNotContract(address sink);
    error EpochJumpTooLarge(uint64 epoch, uint64 lastSettledEpoch, uint64 maxJump);
    error SpendAuthorizationExpired(address payer, uint64 expiry, uint64 now_);
    error SpendNonceUsed(address payer, uint256 nonce);
    error InvalidSpendSignature(address payer);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants SETTLER_ROLE, sets sink and delay).
    /// @param openToken The OPEN token.
    /// @param sink_ Where settled OPEN goes (the RewardsDistributor).
    /// @param withdrawalDelay_ Seconds a withdrawal waits (≤ MAX_WITHDRAWAL_DELAY).
    constructor(address admin, IERC20 openToken, address sink_, uint64 withdrawalDelay_)
        EIP712("OpenLedger InferenceEscrow", "1")
    {
        if (admin == address(0) || address(openToken) == address(0) || sink_ == address(0)) revert ZeroAddress();
        if (withdrawalDelay_ > MAX_WITHDRAWAL_DELAY) revert DelayTooLong(withdrawalDelay_, MAX_WITHDRAWAL_DELAY);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        token = openToken;
        sink = sink_;
        withdrawalDelay = withdrawalDelay_;
    }

    // ---- deposits ----

    /// @notice Deposits `amount` OPEN from the caller into the caller's balance.
    /// @dev Requirements: amount > 0; the caller approved this contract.
    /// @param amount OPEN wei.
    function deposit(uint256 amount) external {
        _deposit(msg.sender, msg.sender, amount);
    }

    /// @notice Deposits `amount` OPEN from the caller into `account`'s balance (top up someone else).
    /// @dev Requirements: amount > 0; `account` not zero; the caller approved this contract.
    /// @param account Whose balance to credit.
    /// @param amount OPEN wei.
    function depositFor(address account, uint256 amount) external {
        _deposit(msg.sender, account, amount);
    }

    /// @notice Deposits with an EIP-2612 permit instead of a prior approve.
    /// @dev The permit is tried and its failure ignored: a front-runner may already have used the signature
    ///      (consuming the nonce); the transfer then still succeeds if the allowance is in place (OZ advice).
    /// @param amount OPEN wei (also the permit value).
    /// @param deadline Permit deadline.
    /// @param v Signature v.
    /// @param r Signature r.
    /// @param s Signature s.
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _deposit(msg.sender, msg.sender, amount);
    }

    // ---- withdrawals ----

    /// @notice Requests a withdrawal of `amount`, available after `withdrawalDelay`. Replaces any earlier
    ///         request and restarts the delay. The amount stays debitable until withdrawn.
    /// @dev Requirements: 0 < amount ≤ balance.
    /// @param amount OPEN wei.
    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 balance = _balances[msg.sender];
        if (amount > balance) revert InsufficientBalance(msg.sender, balance, amount);
        uint64 availableAt = uint64(block.timestamp) + withdrawalDelay;
        _pending[msg.sender] = PendingWithdrawal({amount: amount, availableAt: availableAt});
        emit WithdrawalRequested(msg.sender, amount, availableAt);
    }

    /// @notice Cancels the caller's pending withdrawal request.
    /// @dev Requirements: a request exists.
    function cancelWithdrawal() external {
        PendingWithdrawal memory p = _pending[msg.sender];
        if (p.availableAt == 0) revert NoPendingWithdrawal(msg.sender);
        delete _pending[msg.sender];
        emit WithdrawalCancelled(msg.sender, p.amount);
    }

    /// @notice Pays out the caller's pending withdrawal: min(requested, current balance).
    /// @dev Requirements: a request exists and its delay has passed; the payable amount is > 0.
    /// @return amount OPEN wei sent to the caller.
    function withdraw() external returns (uint256 amount) {
        PendingWithdrawal memory p = _pending[msg.sender];
        if (p.availableAt == 0) revert NoPendingWithdrawal(msg.sender);
        if (block.timestamp < p.availableAt) {
            revert WithdrawalNotReady(msg.sender, p.availableAt, uint64(block.timestamp));
        }
        uint256 balance = _balances[msg.sender];
        amount = p.amount < balance ? p.amount : balance;
        delete _pending[msg.sender];
        if (amount == 0) revert InsufficientBalance(msg.sender, balance, p.amount);
        uint256 newBalance = balance - amount;
        _balances[msg.sender] = newBalance;
        totalBalance -= amount;
        emit Withdrawn(msg.sender, amount, newBalance);
        token.safeTransfer(msg.sender, amount);
    }

    // ---- spend authorizations ----

    /// @notice Installs a payer's signed spend authorization (anyone may relay it). Replaces the payer's current
    ///         one; spent restarts at 0; the old one's unspent remainder stays settleable for `withdrawalDelay`.
    /// @dev Requirements: payer not zero; expiry in the future (SpendAuthorizationExpired); nonce never used by
    ///      this payer (SpendNonceUsed); signature valid for this chain and this contract — EOA or ERC-1271
    ///      (InvalidSpendSignature).
    /// @param auth The authorization.
    /// @param signature The payer's EIP-712 signature over it.
    function authorizeSpend(SpendAuthorization calldata auth, bytes calldata signature) external {
        if (auth.payer == address(0)) revert ZeroAddress();
        if (auth.expiry <= block.timestamp) {
            revert SpendAuthorizationExpired(auth.payer, auth.expiry, uint64(block.timestamp));
        }
        if (_nonceUsed[auth.payer][auth.nonce]) revert SpendNonceUsed(auth.payer, auth.nonce);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(SPEND_AUTHORIZATION_TYPEHASH, auth.payer, auth.scope, auth.cap, auth.expiry, auth.nonce)
            )
        );
        if (!SignatureChecker.isValidSignatureNow(auth.payer, digest, signature)) {
            revert InvalidSpendSignature(auth.payer);
        }
        _nonceUsed[auth.payer][auth.nonce] = true;
        _install(auth.payer, auth.scope, auth.cap, auth.expiry, auth.nonce);
    }

    /// @notice The caller authorizes spending directly (no signature), like an ERC-20 allowance.
    /// @dev Requirements: expiry in the future. Recorded with nonce 0; replaces the current authorization.
    /// @param scope bytes32(0) = any model / key.
    /// @param cap Most the settler may debit under it.
    /// @param expiry Timestamp after which it no longer settles.
    function approveSpend(bytes32 scope, uint256 cap, uint64 expiry) external {
        if (expiry <= block.timestamp) revert SpendAuthorizationExpired(msg.sender, expiry, uint64(block.timestamp));
        _install(msg.sender, scope, cap, expiry, 0);
    }

    // ---- settlement ----

    /// @notice Settles one epoch: debits each account's usage within its authorization and sends the total
    ///         to the sink through `IRewardsSink.fund`.
    /// @dev Requirements: caller holds SETTLER_ROLE; lastSettledEpoch < epoch ≤ lastSettledEpoch + MAX_EPOCH_JUMP;
    ///      equal lengths. Never reverts for one account: an amount beyond the authorization's remainder (or
    ///      after expiry) debits nothing (DebitRefused); otherwise min(amount, balance) is debited (Debited) and a
    ///      short balance emits Shortfall. Zero amounts are skipped. One EpochSettled with the total moved.
    /// @param epoch Epoch number.
    /// @param accounts Callers to debit.
    /// @param amounts OPEN wei to debit from each.
    /// @param recordsRoot Merkle root / hash of the epoch's usage records (kept in the DA layer) for audit.
    /// @return total OPEN wei moved to the sink.
    function settle(uint64 epoch, address[] calldata accounts, uint256[] calldata amounts, bytes32 recordsRoot)
        external
        onlyRole(SETTLER_ROLE)
        returns (uint256 total)
    {
        uint64 last = lastSettledEpoch;
        if (epoch <= last) revert EpochNotIncreasing(epoch, last);
        if (epoch - last > MAX_EPOCH_JUMP) revert EpochJumpTooLarge(epoch, last, MAX_EPOCH_JUMP);
        if (accounts.length != amounts.length) revert LengthMismatch(accounts.length, amounts.length);
        lastSettledEpoch = epoch;
        for (uint256 i = 0; i < accounts.length; i++) {
            uint256 amount = amounts[i];
            if (amount == 0) continue;
            address account = accounts[i];
            uint256 remaining = authorizedRemaining(account);
            if (amount > remaining) {
                emit DebitRefused(epoch, account, amount, remaining);
                continue;
            }
            uint256 balance = _balances[account];
            uint256 debited = amount < balance ? amount : balance;
            if (debited > 0) {
                _consume(account, debited);
                unchecked {
                    _balances[account] = balance - debited;
                }
                total += debited;
                emit Debited(epoch, account, debited, balance - debited);
            }
            if (debited < amount) emit Shortfall(epoch, account, amount, debited);
        }
        totalBalance -= total;
        address to = sink;
        emit EpochSettled(epoch, total, accounts.length, recordsRoot, to);
        if (total > 0) {
            token.forceApprove(to, total);
            IRewardsSink(to).fund(total);
        }
    }

    // ---- admin ----

    /// @notice Changes where settled OPEN goes.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; `newSink` a contract with `fund(uint256)`.
    /// @param newSink New sink.
    function setSink(address newSink) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newSink == address(0)) revert ZeroAddress();
        if (newSink.code.length == 0) revert SinkNotContract(newSink);
        emit SinkUpdated(sink, newSink);
        sink = newSink;
    }

    /// @notice Changes the withdrawal delay for future requests.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; delay ≤ MAX_WITHDRAWAL_DELAY.
    /// @param newDelay Seconds.
    function setWithdrawalDelay(uint64 newDelay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newDelay > MAX_WITHDRAWAL_DELAY) revert DelayTooLong(newDelay, MAX_WITHDRAWAL_DELAY);
        emit WithdrawalDelayUpdated(withdrawalDelay, newDelay);
        withdrawalDelay = newDelay;
    }

    // ---- views ----

    /// @notice The payer's current spend authorization (expiry 0 = none).
    /// @param payer The payer.
    function spendAuthorization(address payer)
        external
        view
        returns (bytes32 scope, uint256 cap, uint256 spent, uint64 expiry, uint256 nonce)
    {
        Authorization storage a = _auth[payer];
        return (a.scope, a.cap, a.spent, a.expiry, a.nonce);
    }

    /// @notice The replaced authorization's remainder still settleable, and until when.
    /// @param payer The payer.
    function spendCarry(address payer) external view returns (uint256 carry, uint64 carryUntil) {
        Authorization storage a = _auth[payer];
        return (a.carryUntil > block.timestamp ? a.carry : 0, a.carryUntil);
    }

    /// @notice What `settle` may still debit from `payer` now: the current authorization's cap − spent (0 once
    ///         expired) plus the unexpired carry of the replaced one.
    /// @param payer The payer.
    function authorizedRemaining(address payer) public view returns (uint256 remaining) {
        Authorization storage a = _auth[payer];
        if (a.expiry > block.timestamp) remaining = a.cap - a.spent;
        if (a.carryUntil > block.timestamp) remaining += a.carry;
    }

    /// @notice Whether `payer` has used `nonce` for a signed authorization.
    /// @param payer The payer.
    /// @param nonce The nonce.
    function spendNonceUsed(address payer, uint256 nonce) external view returns (bool) {
        return _nonceUsed[payer][nonce];
    }

    /// @notice The EIP-712 domain separator of this escrow (name "OpenLedger InferenceEscrow", version "1").
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice An account's balance (including any amount requested for withdrawal).
    /// @param account The account.
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @notice An account's pending withdrawal request (availableAt 0 = none).
    /// @param account The account.
    function pendingWithdrawal(address account) external view returns (PendingWithdrawal memory) {
        return _pending[account];
    }

    /// @notice What the account may still spend on new requests: balance minus the pending withdrawal.
    /// @param account The account.
    function spendableBalance(address account) external view returns (uint256) {
        uint256 balance = _balances[account];
        uint256 pending = _pending[account].amount;
        return pending >= balance ? 0 : balance - pending;
    }

    // ---- internal ----

    function _install(address payer, bytes32 scope, uint256 cap, uint64 expiry, uint256 nonce) private {
        // A new authorization that allows less than the old one still did takes full effect only after the
        // withdrawal delay: usage the node served under the old one cannot be escaped by signing a smaller one.
        // Until then the difference stays settleable as `carry` (so the exposure is max(old remaining, new cap)).
        uint256 old = authorizedRemaining(payer);
        uint256 carry = old > cap ? old - cap : 0;
        uint64 carryUntil = carry == 0 ? 0 : uint64(block.timestamp) + withdrawalDelay;
        _auth[payer] = Authorization({
            scope: scope, cap: cap, spent: 0, expiry: expiry, nonce: nonce, carry: carry, carryUntil: carryUntil
        });
        emit SpendAuthorized(payer, scope, cap, expiry, nonce, carry, carryUntil);
    }

    /// @dev Uses the carry first (it expires first), then the current authorization. Caller checked the total.
    function _consume(address payer, uint256 amount) private {
        Authorization storage a = _auth[payer];
        if (a.carryUntil > block.timestamp && a.carry > 0) {
            uint256 fromCarry = amount < a.carry ? amount : a.carry;
            a.carry -= fromCarry;
            amount -= fromCarry;
        }
        if (amount > 0) a.spent += amount;
    }

    function _deposit(address from, address account, uint256 amount) private {
        if (account == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint256 newBalance = _balances[account] + amount;
        _balances[account] = newBalance;
        totalBalance += amount;
        emit Deposited(account, from, amount, newBalance);
        token.safeTransferFrom(from, address(this), amount);
    }
}
