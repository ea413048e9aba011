// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title RewardsDistributor — per-epoch cumulative Merkle roots of earnings, pull claims; pays only what was paid in
/// @notice Each epoch the node submits the Merkle root of every account's CUMULATIVE earnings so far. A root
///         becomes active `activationDelay` seconds after submission; until then the admin (Timelock), a guardian
///         or the root submitter can disable it. Anyone may claim for an account with a proof against the latest
///         active root; the account receives cumulativeAmount − alreadyClaimed.
///         Money rules: a root's totalCumulative may not exceed `totalFunded` (everything that came in through
///         `fund`: the escrow's settlements, paid datanet access, explicit funding), so a root submitter cannot
///         pay out more than was paid in; the activation delay never goes below the immutable
///         `minActivationDelay`; at most MAX_PENDING_ROOTS roots wait for activation (claims cost O(that));
///         epochs advance by at most MAX_EPOCH_JUMP.
/// @dev Leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))) with sorted-pair
///      hashing: exactly StandardMerkleTree.of(values, ["address", "uint256"]) of the npm package
///      openzeppelin merkle-tree.
///      Epochs start at 1 and strictly increase; a disabled latest epoch may be submitted again.
///      Penalties: a root may give an account less than it already claimed; that account then has nothing to
///      claim until its cumulative amount passes its claimed amount again. The submitter counts such an account
///      at max(leaf, claimed) in totalCumulative so the other claimants are never blocked (ExceedsRootTotal).
contract RewardsDistributor is AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role of the node account that submits roots.
    bytes32 public constant ROOT_SUBMITTER_ROLE = keccak256("ROOT_SUBMITTER_ROLE");
    /// @notice Role that may only disable pending roots (stops a bad root; never moves money).
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice Upper bound for `activationDelay`.
    uint64 public constant MAX_ACTIVATION_DELAY = 30 days;
    /// @notice Lowest `minActivationDelay` a deployment may choose.
    uint64 public constant MIN_ACTIVATION_DELAY_FLOOR = 1 minutes;
    /// @notice Most roots waiting for activation at once (bounds the work of every claim).
    uint256 public constant MAX_PENDING_ROOTS = 8;
    /// @notice Largest step between two submitted epochs (an epoch near 2^64 would brick submissions).
    uint64 public constant MAX_EPOCH_JUMP = 2 ** 32;

    /// @notice How each inference fee splits (basis points, summing to 10_000); the node reads these when it
    ///         closes an epoch, governance sets them.
    struct FeeShares {
        uint16 protocolBps;
        uint16 modelOwnerBps;
        uint16 validatorsBps;
        uint16 contributorsBps;
    }

    /// @notice Bounds of `epochLength`.
    uint64 public constant MIN_EPOCH_LENGTH = 1 minutes;
    uint64 public constant MAX_EPOCH_LENGTH = 30 days;

    struct RootInfo {
        bytes32 root;
        /// Sum of all cumulative amounts in the tree (bounds total claims against this root).
        uint256 totalCumulative;
        uint64 submittedAt;
        uint64 activatedAt;
        bool disabled;
        /// DA commitment of the epoch's leaves / records.
        bytes daCommitment;
    }

    /// @notice The OPEN token paid out.
    IERC20 public immutable token;
    /// @notice The activation delay can never be set below this (fixed at deployment).
    uint64 public immutable minActivationDelay;
    /// @notice Seconds between submission and activation of a root.
    uint64 public activationDelay;
    /// @notice Sum of everything ever claimed.
    uint256 public totalClaimed;
    /// @notice Sum of everything paid in through `fund` (settlements, access revenue, explicit funding).
    uint256 public totalFunded;
    /// @notice Fee split the node applies at epoch close (governed).
    FeeShares public feeShares = FeeShares({protocolBps: 1_000, modelOwnerBps: 4_000, validatorsBps: 1_000, contributorsBps: 4_000});
    /// @notice Seconds per settlement epoch the node uses (governed).
    uint64 public epochLength = 1 hours;

    uint64 private _lastEpoch;
    uint256 private _epochCount;
    /// Newest root known to be active (promoted from the queue).
    uint64 private _activeEpoch;
    /// Submitted, not disabled, not yet promoted; ascending epochs; length ≤ MAX_PENDING_ROOTS.
    uint64[] private _queue;
    mapping(uint64 epoch => RootInfo) private _roots;
    mapping(address account => uint256) private _claimed;

    event RootSubmitted(
        uint64 indexed epoch, bytes32 indexed root, uint256 totalCumulative, uint64 activatedAt, bytes daCommitment
    );
    event RootDisabled(uint64 indexed epoch, bytes32 indexed root, address indexed disabledBy);
    event Claimed(address indexed account, uint64 indexed epoch, uint256 amount, uint256 cumulativeAmount);
    event Funded(address indexed from, uint256 amount);
    event ActivationDelayUpdated(uint64 previousDelay, uint64 newDelay);
    event FeeSharesUpdated(uint16 protocolBps, uint16 modelOwnerBps, uint16 validatorsBps, uint16 contributorsBps);
    event EpochLengthUpdated(uint64 previousLength, uint64 newLength);

    error ZeroAddress();
    error ZeroAmount();
    error EmptyRoot();
    error EpochNotIncreasing(uint64 epoch, uint64 lastEpoch);
    error EpochJumpTooLarge(uint64 epoch, uint64 lastEpoch, uint64 maxJump);
    error TotalBelowClaimed(uint256 totalCumulative, uint256 totalClaimed);
    error ExceedsFunding(uint256 totalCumulative, uint256 totalFunded);
    error TooManyPendingRoots(uint256 pending, uint256 max);
    error RootNotFound(uint64 epoch);
    error RootAlreadyDisabled(uint64 epoch);
    error RootAlreadyActive(uint64 epoch, uint64 activatedAt);
    error NoActiveRoot();
    error InvalidProof(address account, uint256 cumulativeAmount, uint64 epoch);
    error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed);
    error ExceedsRootTotal(uint64 epoch, uint256 totalCumulative, uint256 totalClaimedAfter);
    error InsufficientFunds(uint256 amount, uint256 available);
    error DelayTooLong(uint64 delay, uint64 maxDelay);
    error DelayTooShort(uint64 delay, uint64 minDelay);
    error NotAuthorized(address caller);
    error InvalidFeeShares(uint256 sumBps);
    error EpochLengthOutOfRange(uint64 length, uint64 minLength, uint64 maxLength);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (the Timelock: grants roles, sets the delay, disables roots).
    /// @param openToken The OPEN token.
    /// @param activationDelay_ Seconds between submission and activation (minActivationDelay_..MAX_ACTIVATION_DELAY).
    /// @param minActivationDelay_ Floor for the delay, forever (≥ MIN_ACTIVATION_DELAY_FLOOR).
    constructor(address admin, IERC20 openToken, uint64 activationDelay_, uint64 minActivationDelay_) {
        if (admin == address(0) || address(openToken) == address(0)) revert ZeroAddress();
        if (minActivationDelay_ < MIN_ACTIVATION_DELAY_FLOOR) {
            revert DelayTooShort(minActivationDelay_, MIN_ACTIVATION_DELAY_FLOOR);
        }
        if (minActivationDelay_ > MAX_ACTIVATION_DELAY) revert DelayTooLong(minActivationDelay_, MAX_ACTIVATION_DELAY);
        if (activationDelay_ > MAX_ACTIVATION_DELAY) revert DelayTooLong(activationDelay_, MAX_ACTIVATION_DELAY);
        if (activationDelay_ < minActivationDelay_) revert DelayTooShort(activationDelay_, minActivationDelay_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        token = openToken;
        minActivationDelay = minActivationDelay_;
        activationDelay = activationDelay_;
    }

    /// @notice Submits the cumulative earnings root of `epoch`, active at now + activationDelay.
    /// @dev Requirements: caller holds ROOT_SUBMITTER_ROLE; root non-zero; epoch > last submitted epoch (by at most
    ///      MAX_EPOCH_JUMP), or equal to it when that root was disabled (resubmission replaces it);
    ///      totalClaimed ≤ totalCumulative ≤ totalFunded; fewer than MAX_PENDING_ROOTS roots pending.
    /// @param epoch Epoch number (≥ 1).
    /// @param root StandardMerkleTree root over (account, cumulativeAmount).
    /// @param totalCumulative Sum of the tree's cumulative amounts (accounts below their claimed amount counted
    ///        at their claimed amount).
    /// @param daCommitment DA commitment of the leaves.
    function submitRoot(uint64 epoch, bytes32 root, uint256 totalCumulative, bytes calldata daCommitment)
        external
        onlyRole(ROOT_SUBMITTER_ROLE)
    {
        if (root == bytes32(0)) revert EmptyRoot();
        if (totalCumulative < totalClaimed) revert TotalBelowClaimed(totalCumulative, totalClaimed);
        if (totalCumulative > totalFunded) revert ExceedsFunding(totalCumulative, totalFunded);
        uint64 last = _lastEpoch;
        bool resubmit = epoch == last && last != 0 && _roots[last].disabled;
        if (epoch <= last && !resubmit) revert EpochNotIncreasing(epoch, last);
        if (epoch - last > MAX_EPOCH_JUMP) revert EpochJumpTooLarge(epoch, last, MAX_EPOCH_JUMP);
        _promote();
        if (_queue.length >= MAX_PENDING_ROOTS) revert TooManyPendingRoots(_queue.length, MAX_PENDING_ROOTS);
        if (!resubmit) {
            _lastEpoch = epoch;
            _epochCount += 1;
        }
        _queue.push(epoch);
        uint64 activatedAt = uint64(block.timestamp) + activationDelay;
        _roots[epoch] = RootInfo({
            root: root,
            totalCumulative: totalCumulative,
            submittedAt: uint64(block.timestamp),
            activatedAt: activatedAt,
            disabled: false,
            daCommitment: daCommitment
        });
        emit RootSubmitted(epoch, root, totalCumulative, activatedAt, daCommitment);
    }

    /// @notice Cancels a root before it activates.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE, GUARDIAN_ROLE or ROOT_SUBMITTER_ROLE; the root exists,
    ///      is not disabled and block.timestamp < activatedAt.
    /// @param epoch The epoch whose root to disable.
    function disableRoot(uint64 epoch) external {
        if (
            !hasRole(DEFAULT_ADMIN_ROLE, msg.sender) && !hasRole(GUARDIAN_ROLE, msg.sender)
                && !hasRole(ROOT_SUBMITTER_ROLE, msg.sender)
        ) {
            revert NotAuthorized(msg.sender);
        }
        RootInfo storage info = _roots[epoch];
        if (info.root == bytes32(0)) revert RootNotFound(epoch);
        if (info.disabled) revert RootAlreadyDisabled(epoch);
        if (block.timestamp >= info.activatedAt) revert RootAlreadyActive(epoch, info.activatedAt);
        info.disabled = true;
        // Not active yet, so it is still in the queue: remove it, keeping the order.
        uint256 n = _queue.length;
        for (uint256 i = 0; i < n; i++) {
            if (_queue[i] == epoch) {
                for (uint256 j = i; j + 1 < n; j++) _queue[j] = _queue[j + 1];
                _queue.pop();
                break;
            }
        }
        emit RootDisabled(epoch, info.root, msg.sender);
    }

    /// @notice Claims `account`'s unclaimed earnings against the latest active root; anyone may call, the
    ///         OPEN always goes to `account`.
    /// @dev Requirements: an active root exists; the proof is valid; cumulativeAmount > already claimed; the
    ///      root's totalCumulative covers all claims; the contract holds enough OPEN.
    /// @param account The earner.
    /// @param cumulativeAmount The account's cumulative earnings in the latest active root.
    /// @param proof StandardMerkleTree proof of (account, cumulativeAmount).
    /// @return amount OPEN wei paid.
    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        returns (uint256 amount)
    {
        _promote();
        uint64 epoch = _activeEpoch;
        if (epoch == 0) revert NoActiveRoot();
        RootInfo storage info = _roots[epoch];
        if (!MerkleProof.verifyCalldata(proof, info.root, leaf(account, cumulativeAmount))) {
            revert InvalidProof(account, cumulativeAmount, epoch);
        }
        uint256 already = _claimed[account];
        if (cumulativeAmount <= already) revert NothingToClaim(account, cumulativeAmount, already);
        amount = cumulativeAmount - already;
        uint256 claimedAfter = totalClaimed + amount;
        if (claimedAfter > info.totalCumulative) revert ExceedsRootTotal(epoch, info.totalCumulative, claimedAfter);
        uint256 available = token.balanceOf(address(this));
        if (amount > available) revert InsufficientFunds(amount, available);
        _claimed[account] = cumulativeAmount;
        totalClaimed = claimedAfter;
        emit Claimed(account, epoch, amount, cumulativeAmount);
        token.safeTransfer(account, amount);
    }

    /// @notice Adds OPEN to the payout pool; it counts towards `totalFunded`, the ceiling of every root. The escrow
    ///         (settlements) and the DatanetRegistry (paid access) pay in through here.
    /// @dev Requirements: amount > 0; caller approved this contract.
    /// @param amount OPEN wei.
    function fund(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        totalFunded += amount;
        emit Funded(msg.sender, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Changes the activation delay for future roots.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; minActivationDelay ≤ delay ≤ MAX_ACTIVATION_DELAY.
    /// @param newDelay Seconds.
    function setActivationDelay(uint64 newDelay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newDelay > MAX_ACTIVATION_DELAY) revert DelayTooLong(newDelay, MAX_ACTIVATION_DELAY);
        if (newDelay < minActivationDelay) revert DelayTooShort(newDelay, minActivationDelay);
        emit ActivationDelayUpdated(activationDelay, newDelay);
        activationDelay = newDelay;
    }

    /// @notice Sets the fee split the node applies to inference fees.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE (the Timelock); the four shares sum to 10_000.
    /// @param shares Basis points per party.
    function setFeeShares(FeeShares calldata shares) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 sum =
            uint256(shares.protocolBps) + shares.modelOwnerBps + shares.validatorsBps + shares.contributorsBps;
        if (sum != 10_000) revert InvalidFeeShares(sum);
        feeShares = shares;
        emit FeeSharesUpdated(shares.protocolBps, shares.modelOwnerBps, shares.validatorsBps, shares.contributorsBps);
    }

    /// @notice Sets the settlement epoch length the node uses.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; MIN_EPOCH_LENGTH ≤ length ≤ MAX_EPOCH_LENGTH.
    /// @param length Seconds.
    function setEpochLength(uint64 length) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (length < MIN_EPOCH_LENGTH || length > MAX_EPOCH_LENGTH) {
            revert EpochLengthOutOfRange(length, MIN_EPOCH_LENGTH, MAX_EPOCH_LENGTH);
        }
        emit EpochLengthUpdated(epochLength, length);
        epochLength = length;
    }

    // ---- views ----

    /// @notice The leaf hash of (account, cumulativeAmount), as StandardMerkleTree computes it.
    /// @param account The earner.
    /// @param cumulativeAmount Cumulative earnings.
    function leaf(address account, uint256 cumulativeAmount) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
    }

    /// @notice The last submitted epoch (0 = none), disabled or not.
    function lastSubmittedEpoch() public view returns (uint64) {
        return _lastEpoch;
    }

    /// @notice The newest epoch whose root is activated and not disabled (0 = none). O(MAX_PENDING_ROOTS).
    function latestActiveEpoch() public view returns (uint64) {
        for (uint256 i = _queue.length; i > 0; i--) {
            uint64 epoch = _queue[i - 1];
            if (_roots[epoch].activatedAt <= block.timestamp) return epoch;
        }
        return _activeEpoch;
    }

    /// @notice Roots submitted and waiting for activation (not disabled).
    function pendingRoots() external view returns (uint64[] memory) {
        return _queue;
    }

    /// @notice Number of submitted epochs (resubmissions count once).
    function epochCount() external view returns (uint256) {
        return _epochCount;
    }

    /// @notice The root record of an epoch. Reverts RootNotFound when none was submitted.
    /// @param epoch The epoch.
    function getRoot(uint64 epoch) external view returns (RootInfo memory) {
        RootInfo memory info = _roots[epoch];
        if (info.root == bytes32(0)) revert RootNotFound(epoch);
        return info;
    }

    /// @notice Cumulative amount already paid to `account`.
    /// @param account The earner.
    function claimed(address account) external view returns (uint256) {
        return _claimed[account];
    }

    /// @notice What `claim` would pay now for this leaf and proof (0 if the proof is invalid or nothing is due).
    /// @param account The earner.
    /// @param cumulativeAmount Cumulative earnings in the latest active root.
    /// @param proof StandardMerkleTree proof.
    function claimable(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        view
        returns (uint256)
    {
        uint64 epoch = latestActiveEpoch();
        if (epoch == 0) return 0;
        if (!MerkleProof.verifyCalldata(proof, _roots[epoch].root, leaf(account, cumulativeAmount))) return 0;
        uint256 already = _claimed[account];
        return cumulativeAmount > already ? cumulativeAmount - already : 0;
    }

    // ---- internal ----

    /// @dev Moves the newest activated queued root to `_activeEpoch` and drops it and every older queued root
    ///      (a newer active root supersedes them). O(MAX_PENDING_ROOTS).
    function _promote() private {
        uint256 n = _queue.length;
        uint256 k = n;
        for (uint256 i = n; i > 0; i--) {
            if (_roots[_queue[i - 1]].activatedAt <= block.timestamp) {
                k = i - 1;
                break;
            }
        }
        if (k == n) return;
        _activeEpoch = _queue[k];
        uint256 keep = n - (k + 1);
        for (uint256 j = 0; j < keep; j++) _queue[j] = _queue[k + 1 + j];
        for (uint256 j = 0; j < k + 1; j++) _queue.pop();
    }
}
