// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Staking — validator stake with an unbonding delay and slashing with evidence and a challenge window
/// @notice Validators stake OPEN; `unbond` moves part of the stake into an unbonding entry released after
///         `unbondingDelay`; `withdraw` pays every released entry. A SLASHER proposes a slash with an evidence hash
///         (and the DA commitment of the decision), capped at `maxSlashBps` of what the account has at stake; it
///         waits `challengeWindow`, during which governance (the Timelock) or a guardian can veto it; then anyone
///         executes it. A proposed slash freezes the account's withdrawals until it is executed or vetoed, and
///         execution takes what is there (active stake AND unbonding entries), so withdrawing cannot escape it.
///         Slashed OPEN goes to the treasury.
/// @dev Slash order: active stake first, then unbonding entries from the newest. At most MAX_UNBONDING_ENTRIES
///      entries per account and one pending slash per account keep every loop bounded.
///      Invariant: totalStaked + totalUnbonding == token.balanceOf(this) (direct transfers excepted).
contract Staking is AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role of the account allowed to slash (the node, or a governance contract).
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @notice Upper bound of simultaneous unbonding entries per account.
    uint256 public constant MAX_UNBONDING_ENTRIES = 32;
    /// @notice Role that may only veto pending slashes (besides the admin); never moves money.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice Upper bound for `unbondingDelay`.
    uint64 public constant MAX_UNBONDING_DELAY = 90 days;
    /// @notice Bounds of `challengeWindow`.
    uint64 public constant MIN_CHALLENGE_WINDOW = 1 minutes;
    uint64 public constant MAX_CHALLENGE_WINDOW = 30 days;
    /// @notice Upper bound of `maxSlashBps` (basis points of the account's stake + unbonding).
    uint16 public constant MAX_SLASH_BPS_LIMIT = 10_000;

    enum SlashStatus {
        None,
        Pending,
        Vetoed,
        Executed
    }

    struct SlashProposal {
        address account;
        SlashStatus status;
        uint64 executableAt;
        uint256 amount;
        /// Hash of the evidence (e.g. of the decision record).
        bytes32 evidenceHash;
        /// DA commitment of the decision record.
        bytes daCommitment;
    }

    struct UnbondingEntry {
        uint256 amount;
        uint64 releaseAt;
    }

    /// @notice The OPEN token.
    IERC20 public immutable token;
    /// @notice Where slashed OPEN goes.
    address public treasury;
    /// @notice Seconds from `unbond` until the entry can be withdrawn.
    uint64 public unbondingDelay;
    /// @notice Sum of active stakes.
    uint256 public totalStaked;
    /// @notice Sum of unbonding entries.
    uint256 public totalUnbonding;
    /// @notice Seconds between `proposeSlash` and `executeSlash` (the veto window).
    uint64 public challengeWindow;
    /// @notice Most one slash may take, in basis points of the account's stake + unbonding when proposed.
    uint16 public maxSlashBps;
    /// @notice Number of slash proposals; ids are 1..slashCount.
    uint256 public slashCount;

    mapping(uint256 slashId => SlashProposal) private _slashes;
    /// The account's pending slash (0 = none).
    mapping(address account => uint256) private _pendingSlash;

    mapping(address account => uint256) private _stakes;
    mapping(address account => UnbondingEntry[]) private _unbonding;

    event Staked(address indexed account, uint256 amount, uint256 newStake);
    event UnbondingStarted(address indexed account, uint256 amount, uint64 releaseAt, uint256 newStake);
    event Withdrawn(address indexed account, uint256 amount);
    event SlashProposed(
        uint256 indexed slashId,
        address indexed account,
        uint256 amount,
        bytes32 indexed evidenceHash,
        uint64 executableAt,
        bytes daCommitment
    );
    event SlashVetoed(uint256 indexed slashId, address indexed account, address indexed vetoedBy);
    event Slashed(
        uint256 indexed slashId,
        address indexed account,
        uint256 amount,
        uint256 fromStake,
        uint256 fromUnbonding,
        bytes32 indexed evidenceHash,
        address treasury
    );
    event ChallengeWindowUpdated(uint64 previousWindow, uint64 newWindow);
    event MaxSlashBpsUpdated(uint16 previousBps, uint16 newBps);
    event TreasuryUpdated(address indexed previousTreasury, address indexed newTreasury);
    event UnbondingDelayUpdated(uint64 previousDelay, uint64 newDelay);

    error ZeroAddress();
    error ZeroAmount();
    error InsufficientStake(address account, uint256 stake, uint256 amount);
    error TooManyUnbondingEntries(address account, uint256 max);
    error NothingToWithdraw(address account);
    error DelayTooLong(uint64 delay, uint64 maxDelay);
    error MissingEvidence(address account);
    error SlashAboveCap(address account, uint256 amount, uint256 cap);
    error SlashAlreadyPending(address account, uint256 slashId);
    error SlashNotFound(uint256 slashId);
    error SlashNotPending(uint256 slashId, SlashStatus status);
    error ChallengeWindowOpen(uint256 slashId, uint64 executableAt, uint64 now_);
    error ChallengeWindowClosed(uint256 slashId, uint64 executableAt);
    error SlashPending(address account, uint256 slashId);
    error ChallengeWindowOutOfRange(uint64 window, uint64 minWindow, uint64 maxWindow);
    error SlashBpsOutOfRange(uint16 bps, uint16 maxBps);
    error NotAuthorized(address caller);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (the Timelock: grants SLASHER_ROLE, sets parameters, vetoes).
    /// @param openToken The OPEN token.
    /// @param treasury_ Where slashed OPEN goes.
    /// @param unbondingDelay_ Seconds an unbonding entry waits (≤ MAX_UNBONDING_DELAY).
    /// @param challengeWindow_ Seconds a proposed slash waits for a veto (MIN..MAX_CHALLENGE_WINDOW).
    /// @param maxSlashBps_ Cap of one slash in basis points of stake + unbonding (1..10000).
    constructor(
        address admin,
        IERC20 openToken,
        address treasury_,
        uint64 unbondingDelay_,
        uint64 challengeWindow_,
        uint16 maxSlashBps_
    ) {
        if (admin == address(0) || address(openToken) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        if (unbondingDelay_ > MAX_UNBONDING_DELAY) revert DelayTooLong(unbondingDelay_, MAX_UNBONDING_DELAY);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        token = openToken;
        treasury = treasury_;
        unbondingDelay = unbondingDelay_;
        _setChallengeWindow(challengeWindow_);
        _setMaxSlashBps(maxSlashBps_);
    }

    /// @notice Stakes `amount` OPEN from the caller.
    /// @dev Requirements: amount > 0; caller approved this contract.
    /// @param amount OPEN wei.
    function stake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 newStake = _stakes[msg.sender] + amount;
        _stakes[msg.sender] = newStake;
        totalStaked += amount;
        emit Staked(msg.sender, amount, newStake);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Starts unbonding `amount` of the caller's stake; it can be withdrawn at now + unbondingDelay.
    /// @dev Requirements: 0 < amount ≤ stake; fewer than MAX_UNBONDING_ENTRIES entries pending.
    /// @param amount OPEN wei.
    /// @return releaseAt When the entry can be withdrawn.
    function unbond(uint256 amount) external returns (uint64 releaseAt) {
        if (amount == 0) revert ZeroAmount();
        uint256 current = _stakes[msg.sender];
        if (amount > current) revert InsufficientStake(msg.sender, current, amount);
        UnbondingEntry[] storage entries = _unbonding[msg.sender];
        if (entries.length >= MAX_UNBONDING_ENTRIES) revert TooManyUnbondingEntries(msg.sender, MAX_UNBONDING_ENTRIES);
        releaseAt = uint64(block.timestamp) + unbondingDelay;
        uint256 newStake = current - amount;
        _stakes[msg.sender] = newStake;
        totalStaked -= amount;
        totalUnbonding += amount;
        entries.push(UnbondingEntry({amount: amount, releaseAt: releaseAt}));
        emit UnbondingStarted(msg.sender, amount, releaseAt, newStake);
    }

    /// @notice Pays the caller every unbonding entry whose release time has passed.
    /// @dev Requirements: no slash pending against the caller (SlashPending); at least one released entry.
    /// @return amount OPEN wei paid.
    function withdraw() external returns (uint256 amount) {
        uint256 pending = _pendingSlash[msg.sender];
        if (pending != 0) revert SlashPending(msg.sender, pending);
        UnbondingEntry[] storage entries = _unbonding[msg.sender];
        uint256 kept = 0;
        uint256 n = entries.length;
        for (uint256 i = 0; i < n; i++) {
            UnbondingEntry memory e = entries[i];
            if (e.releaseAt <= block.timestamp) {
                amount += e.amount;
            } else {
                if (kept != i) entries[kept] = e;
                kept++;
            }
        }
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        for (uint256 i = n; i > kept; i--) entries.pop();
        totalUnbonding -= amount;
        emit Withdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Proposes slashing `amount` from `account`, executable after the challenge window.
    /// @dev Requirements: caller holds SLASHER_ROLE; amount > 0; evidenceHash non-zero and daCommitment non-empty
    ///      (MissingEvidence); amount ≤ maxSlashBps of stake + unbonding (SlashAboveCap); no other slash pending
    ///      against the account (SlashAlreadyPending). Freezes the account's withdrawals until resolved.
    /// @param account The validator.
    /// @param amount OPEN wei to slash.
    /// @param evidenceHash Hash of the evidence / decision record.
    /// @param daCommitment DA commitment of the decision record.
    /// @return slashId The proposal's id.
    function proposeSlash(address account, uint256 amount, bytes32 evidenceHash, bytes calldata daCommitment)
        external
        onlyRole(SLASHER_ROLE)
        returns (uint256 slashId)
    {
        if (amount == 0) revert ZeroAmount();
        if (evidenceHash == bytes32(0) || daCommitment.length == 0) revert MissingEvidence(account);
        uint256 cap = slashableOf(account) * maxSlashBps / MAX_SLASH_BPS_LIMIT;
        if (amount > cap) revert SlashAboveCap(account, amount, cap);
        uint256 pending = _pendingSlash[account];
        if (pending != 0) revert SlashAlreadyPending(account, pending);
        slashId = ++slashCount;
        uint64 executableAt = uint64(block.timestamp) + challengeWindow;
        _slashes[slashId] = SlashProposal({
            account: account,
            status: SlashStatus.Pending,
            executableAt: executableAt,
            amount: amount,
            evidenceHash: evidenceHash,
            daCommitment: daCommitment
        });
        _pendingSlash[account] = slashId;
        emit SlashProposed(slashId, account, amount, evidenceHash, executableAt, daCommitment);
    }

    /// @notice Vetoes a pending slash during its challenge window (governance, through the Timelock, or a guardian).
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE or GUARDIAN_ROLE; the slash is pending; the window is open.
    /// @param slashId The proposal.
    function vetoSlash(uint256 slashId) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender) && !hasRole(GUARDIAN_ROLE, msg.sender)) {
            revert NotAuthorized(msg.sender);
        }
        SlashProposal storage p = _pendingProposal(slashId);
        if (block.timestamp >= p.executableAt) revert ChallengeWindowClosed(slashId, p.executableAt);
        p.status = SlashStatus.Vetoed;
        delete _pendingSlash[p.account];
        emit SlashVetoed(slashId, p.account, msg.sender);
    }

    /// @notice Executes a pending slash after its challenge window (anyone may call): takes min(amount, what the
    ///         account has at stake now) — active stake first, then unbonding entries from the newest.
    /// @dev Requirements: the slash is pending; block.timestamp ≥ executableAt (ChallengeWindowOpen).
    /// @param slashId The proposal.
    /// @return taken OPEN wei moved to the treasury.
    function executeSlash(uint256 slashId) external returns (uint256 taken) {
        SlashProposal storage p = _pendingProposal(slashId);
        if (block.timestamp < p.executableAt) {
            revert ChallengeWindowOpen(slashId, p.executableAt, uint64(block.timestamp));
        }
        address account = p.account;
        p.status = SlashStatus.Executed;
        delete _pendingSlash[account];
        uint256 slashable = slashableOf(account);
        taken = p.amount < slashable ? p.amount : slashable;
        uint256 current = _stakes[account];
        uint256 fromStake = taken < current ? taken : current;
        _stakes[account] = current - fromStake;
        totalStaked -= fromStake;
        uint256 rest = taken - fromStake;
        uint256 fromUnbonding = rest;
        UnbondingEntry[] storage entries = _unbonding[account];
        while (rest > 0) {
            UnbondingEntry storage last = entries[entries.length - 1];
            if (last.amount <= rest) {
                rest -= last.amount;
                entries.pop();
            } else {
                last.amount -= rest;
                rest = 0;
            }
        }
        totalUnbonding -= fromUnbonding;
        address to = treasury;
        emit Slashed(slashId, account, taken, fromStake, fromUnbonding, p.evidenceHash, to);
        if (taken > 0) token.safeTransfer(to, taken);
    }

    /// @notice Changes the challenge window of future slash proposals.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; MIN_CHALLENGE_WINDOW ≤ window ≤ MAX_CHALLENGE_WINDOW.
    /// @param newWindow Seconds.
    function setChallengeWindow(uint64 newWindow) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setChallengeWindow(newWindow);
    }

    /// @notice Changes the cap of future slash proposals.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; 1 ≤ bps ≤ 10000.
    /// @param newBps Basis points of stake + unbonding.
    function setMaxSlashBps(uint16 newBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMaxSlashBps(newBps);
    }

    /// @notice Changes where slashed OPEN goes.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; not zero.
    /// @param newTreasury New treasury.
    function setTreasury(address newTreasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newTreasury == address(0)) revert ZeroAddress();
        emit TreasuryUpdated(treasury, newTreasury);
        treasury = newTreasury;
    }

    /// @notice Changes the unbonding delay for future `unbond` calls.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; delay ≤ MAX_UNBONDING_DELAY.
    /// @param newDelay Seconds.
    function setUnbondingDelay(uint64 newDelay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newDelay > MAX_UNBONDING_DELAY) revert DelayTooLong(newDelay, MAX_UNBONDING_DELAY);
        emit UnbondingDelayUpdated(unbondingDelay, newDelay);
        unbondingDelay = newDelay;
    }

    // ---- views ----

    /// @notice Active stake of `account`.
    /// @param account The validator.
    function stakeOf(address account) external view returns (uint256) {
        return _stakes[account];
    }

    /// @notice Unbonding entries of `account`, oldest first.
    /// @param account The validator.
    function unbondingOf(address account) external view returns (UnbondingEntry[] memory) {
        return _unbonding[account];
    }

    /// @notice Sum of `account`'s unbonding entries (released or not, not yet withdrawn).
    /// @param account The validator.
    function unbondingTotalOf(address account) public view returns (uint256 total) {
        UnbondingEntry[] storage entries = _unbonding[account];
        for (uint256 i = 0; i < entries.length; i++) total += entries[i].amount;
    }

    /// @notice What `withdraw` would pay `account` now.
    /// @param account The validator.
    function withdrawableOf(address account) external view returns (uint256 total) {
        UnbondingEntry[] storage entries = _unbonding[account];
        for (uint256 i = 0; i < entries.length; i++) {
            if (entries[i].releaseAt <= block.timestamp) total += entries[i].amount;
        }
    }

    /// @notice A slash proposal. Reverts SlashNotFound for an unknown id.
    /// @param slashId The proposal.
    function getSlash(uint256 slashId) external view returns (SlashProposal memory) {
        SlashProposal memory p = _slashes[slashId];
        if (p.status == SlashStatus.None) revert SlashNotFound(slashId);
        return p;
    }

    /// @notice The account's pending slash id (0 = none).
    /// @param account The validator.
    function pendingSlashOf(address account) external view returns (uint256) {
        return _pendingSlash[account];
    }

    /// @notice Stake plus unbonding of `account`: the base of the slash cap.
    /// @param account The validator.
    function slashableOf(address account) public view returns (uint256) {
        return _stakes[account] + unbondingTotalOf(account);
    }

    // ---- internal ----

    function _pendingProposal(uint256 slashId) private view returns (SlashProposal storage p) {
        p = _slashes[slashId];
        if (p.status == SlashStatus.None) revert SlashNotFound(slashId);
        if (p.status != SlashStatus.Pending) revert SlashNotPending(slashId, p.status);
    }

    function _setChallengeWindow(uint64 newWindow) private {
        if (newWindow < MIN_CHALLENGE_WINDOW || newWindow > MAX_CHALLENGE_WINDOW) {
            revert ChallengeWindowOutOfRange(newWindow, MIN_CHALLENGE_WINDOW, MAX_CHALLENGE_WINDOW);
        }
        emit ChallengeWindowUpdated(challengeWindow, newWindow);
        challengeWindow = newWindow;
    }

    function _setMaxSlashBps(uint16 newBps) private {
        if (newBps == 0 || newBps > MAX_SLASH_BPS_LIMIT) revert SlashBpsOutOfRange(newBps, MAX_SLASH_BPS_LIMIT);
        emit MaxSlashBpsUpdated(maxSlashBps, newBps);
        maxSlashBps = newBps;
    }
}
