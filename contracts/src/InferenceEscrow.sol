// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title InferenceEscrow — prepaid OPEN balances that the node debits per epoch for inference usage
/// @notice Callers deposit OPEN; the node serves requests against the balance and, once per epoch, a SETTLER
///         debits each caller's usage and moves the total to the sink (the RewardsDistributor). Withdrawals are
///         two-step: request, then withdraw after `withdrawalDelay`.
/// @dev Pending-withdrawal rule: a requested amount STAYS in the caller's balance and stays debitable by
///      settlement until it is withdrawn — the delay exists so that usage already served can still be settled.
///      `withdraw` pays min(requested, balance at that time). The node should treat
///      `balanceOf(a) - pendingWithdrawal(a).amount` as what the caller may still spend on new requests.
///      Invariant: sum of balances == token.balanceOf(this) (tokens sent directly, not via deposit, excepted).
contract InferenceEscrow is AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role of the node account that settles epochs.
    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    /// @notice Upper bound for `withdrawalDelay`, so that funds can never be locked for long.
    uint64 public constant MAX_WITHDRAWAL_DELAY = 30 days;

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

    event Deposited(address indexed account, address indexed from, uint256 amount, uint256 newBalance);
    event WithdrawalRequested(address indexed account, uint256 amount, uint64 availableAt);
    event WithdrawalCancelled(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount, uint256 newBalance);
    event Debited(uint64 indexed epoch, address indexed account, uint256 amount, uint256 newBalance);
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

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants SETTLER_ROLE, sets sink and delay).
    /// @param openToken The OPEN token.
    /// @param sink_ Where settled OPEN goes (the RewardsDistributor).
    /// @param withdrawalDelay_ Seconds a withdrawal waits (≤ MAX_WITHDRAWAL_DELAY).
    constructor(address admin, IERC20 openToken, address sink_, uint64 withdrawalDelay_) {
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

    // ---- settlement ----

    /// @notice Settles one epoch: debits each account's usage and sends the total to the sink.
    /// @dev Requirements: caller holds SETTLER_ROLE; epoch > lastSettledEpoch; equal lengths; each amount ≤ the
    ///      account's balance (whole call reverts otherwise). Zero amounts are skipped. Emits Debited per
    ///      account and one EpochSettled.
    /// @param epoch Epoch number, strictly greater than the last settled one.
    /// @param accounts Callers to debit.
    /// @param amounts OPEN wei to debit from each.
    /// @param recordsRoot Merkle root / hash of the epoch's usage records (kept in the DA layer) for audit.
    /// @return total OPEN wei moved to the sink.
    function settle(uint64 epoch, address[] calldata accounts, uint256[] calldata amounts, bytes32 recordsRoot)
        external
        onlyRole(SETTLER_ROLE)
        returns (uint256 total)
    {
        if (epoch <= lastSettledEpoch) revert EpochNotIncreasing(epoch, lastSettledEpoch);
        if (accounts.length != amounts.length) revert LengthMismatch(accounts.length, amounts.length);
        lastSettledEpoch = epoch;
        for (uint256 i = 0; i < accounts.length; i++) {
            uint256 amount = amounts[i];
            if (amount == 0) continue;
            address account = accounts[i];
            uint256 balance = _balances[account];
            if (amount > balance) revert InsufficientBalance(account, balance, amount);
            unchecked {
                _balances[account] = balance - amount;
            }
            total += amount;
            emit Debited(epoch, account, amount, balance - amount);
        }
        totalBalance -= total;
        address to = sink;
        emit EpochSettled(epoch, total, accounts.length, recordsRoot, to);
        if (total > 0) token.safeTransfer(to, total);
    }

    // ---- admin ----

    /// @notice Changes where settled OPEN goes.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; `newSink` not zero.
    /// @param newSink New sink.
    function setSink(address newSink) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newSink == address(0)) revert ZeroAddress();
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
