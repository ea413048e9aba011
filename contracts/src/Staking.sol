// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Staking — validator stake with an unbonding delay and slashing
/// @notice Validators stake OPEN; `unbond` moves part of the stake into an unbonding entry released after
///         `unbondingDelay`; `withdraw` pays every released entry. A SLASHER can slash an account's active
///         stake AND its unbonding entries (unbonding does not escape slashing); slashed OPEN goes to the treasury.
/// @dev Slash order: active stake first, then unbonding entries from the newest. At most MAX_UNBONDING_ENTRIES
///      entries per account keep every loop bounded.
///      Invariant: totalStaked + totalUnbonding == token.balanceOf(this) (direct transfers excepted).
contract Staking is AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role of the account allowed to slash (the node, or a governance contract).
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @notice Upper bound of simultaneous unbonding entries per account.
    uint256 public constant MAX_UNBONDING_ENTRIES = 32;
    /// @notice Upper bound for `unbondingDelay`.
    uint64 public constant MAX_UNBONDING_DELAY = 90 days;

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

    mapping(address account => uint256) private _stakes;
    mapping(address account => UnbondingEntry[]) private _unbonding;

    event Staked(address indexed account, uint256 amount, uint256 newStake);
    event UnbondingStarted(address indexed account, uint256 amount, uint64 releaseAt, uint256 newStake);
    event Withdrawn(address indexed account, uint256 amount);
    event Slashed(
        address indexed account,
        uint256 amount,
        uint256 fromStake,
        uint256 fromUnbonding,
        bytes32 indexed reason,
        address treasury
    );
    event TreasuryUpdated(address indexed previousTreasury, address indexed newTreasury);
    event UnbondingDelayUpdated(uint64 previousDelay, uint64 newDelay);

    error ZeroAddress();
    error ZeroAmount();
    error InsufficientStake(address account, uint256 stake, uint256 amount);
    error TooManyUnbondingEntries(address account, uint256 max);
    error NothingToWithdraw(address account);
    error SlashExceedsStake(address account, uint256 amount, uint256 slashable);
    error DelayTooLong(uint64 delay, uint64 maxDelay);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants SLASHER_ROLE, sets treasury and delay).
    /// @param openToken The OPEN token.
    /// @param treasury_ Where slashed OPEN goes.
    /// @param unbondingDelay_ Seconds an unbonding entry waits (≤ MAX_UNBONDING_DELAY).
    constructor(address admin, IERC20 openToken, address treasury_, uint64 unbondingDelay_) {
        if (admin == address(0) || address(openToken) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        if (unbondingDelay_ > MAX_UNBONDING_DELAY) revert DelayTooLong(unbondingDelay_, MAX_UNBONDING_DELAY);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        token = openToken;
        treasury = treasury_;
        unbondingDelay = unbondingDelay_;
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
    /// @dev Requirements: at least one released entry with a non-zero amount.
    /// @return amount OPEN wei paid.
    function withdraw() external returns (uint256 amount) {
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

    /// @notice Slashes `amount` from `account`: active stake first, then unbonding entries from the newest.
    /// @dev Requirements: caller holds SLASHER_ROLE; 0 < amount ≤ stake + unbonding of the account.
    /// @param account The validator.
    /// @param amount OPEN wei to slash.
    /// @param reason Short reason code / evidence hash, for the record.
    function slash(address account, uint256 amount, bytes32 reason) external onlyRole(SLASHER_ROLE) {
        if (amount == 0) revert ZeroAmount();
        uint256 slashable = slashableOf(account);
        if (amount > slashable) revert SlashExceedsStake(account, amount, slashable);
        uint256 current = _stakes[account];
        uint256 fromStake = amount < current ? amount : current;
        _stakes[account] = current - fromStake;
        totalStaked -= fromStake;
        uint256 rest = amount - fromStake;
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
        emit Slashed(account, amount, fromStake, fromUnbonding, reason, to);
        token.safeTransfer(to, amount);
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

    /// @notice Stake plus unbonding of `account`: the most that can be slashed.
    /// @param account The validator.
    function slashableOf(address account) public view returns (uint256) {
        return _stakes[account] + unbondingTotalOf(account);
    }
}
