// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title RewardsDistributor — per-epoch cumulative Merkle roots of earnings, pull claims
/// @notice Each epoch the node submits the Merkle root of every account's CUMULATIVE earnings so far. A root
///         becomes active `activationDelay` seconds after submission; until then an admin or root submitter can
///         disable it. Anyone may claim for an account with a proof against the latest active root; the account
///         receives cumulativeAmount − alreadyClaimed.
/// @dev Leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))) with sorted-pair
///      hashing: exactly StandardMerkleTree.of(values, ["address", "uint256"]) of the npm package
///      openzeppelin merkle-tree.
///      Epochs start at 1 and strictly increase; a disabled latest epoch may be submitted again.
contract RewardsDistributor is AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role of the node account that submits roots.
    bytes32 public constant ROOT_SUBMITTER_ROLE = keccak256("ROOT_SUBMITTER_ROLE");
    /// @notice Upper bound for `activationDelay`.
    uint64 public constant MAX_ACTIVATION_DELAY = 30 days;

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
    /// @notice Seconds between submission and activation of a root.
    uint64 public activationDelay;
    /// @notice Sum of everything ever claimed.
    uint256 public totalClaimed;

    uint64[] private _epochs;
    mapping(uint64 epoch => RootInfo) private _roots;
    mapping(address account => uint256) private _claimed;

    event RootSubmitted(
        uint64 indexed epoch, bytes32 indexed root, uint256 totalCumulative, uint64 activatedAt, bytes daCommitment
    );
    event RootDisabled(uint64 indexed epoch, bytes32 indexed root, address indexed disabledBy);
    event Claimed(address indexed account, uint64 indexed epoch, uint256 amount, uint256 cumulativeAmount);
    event Funded(address indexed from, uint256 amount);
    event ActivationDelayUpdated(uint64 previousDelay, uint64 newDelay);

    error ZeroAddress();
    error ZeroAmount();
    error EmptyRoot();
    error EpochNotIncreasing(uint64 epoch, uint64 lastEpoch);
    error TotalBelowClaimed(uint256 totalCumulative, uint256 totalClaimed);
    error RootNotFound(uint64 epoch);
    error RootAlreadyDisabled(uint64 epoch);
    error RootAlreadyActive(uint64 epoch, uint64 activatedAt);
    error NoActiveRoot();
    error InvalidProof(address account, uint256 cumulativeAmount, uint64 epoch);
    error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed);
    error ExceedsRootTotal(uint64 epoch, uint256 totalCumulative, uint256 totalClaimedAfter);
    error InsufficientFunds(uint256 amount, uint256 available);
    error DelayTooLong(uint64 delay, uint64 maxDelay);
    error NotAuthorized(address caller);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants ROOT_SUBMITTER_ROLE, can disable roots).
    /// @param openToken The OPEN token.
    /// @param activationDelay_ Seconds between submission and activation (≤ MAX_ACTIVATION_DELAY).
    constructor(address admin, IERC20 openToken, uint64 activationDelay_) {
        if (admin == address(0) || address(openToken) == address(0)) revert ZeroAddress();
        if (activationDelay_ > MAX_ACTIVATION_DELAY) revert DelayTooLong(activationDelay_, MAX_ACTIVATION_DELAY);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        token = openToken;
        activationDelay = activationDelay_;
    }

    /// @notice Submits the cumulative earnings root of `epoch`, active at now + activationDelay.
    /// @dev Requirements: caller holds ROOT_SUBMITTER_ROLE; root non-zero; epoch > last submitted epoch, or
    ///      equal to it when that root was disabled (resubmission replaces it); totalCumulative ≥ totalClaimed
    ///      (cumulative earnings never shrink below what was already paid).
    /// @param epoch Epoch number (≥ 1).
    /// @param root StandardMerkleTree root over (account, cumulativeAmount).
    /// @param totalCumulative Sum of the tree's cumulative amounts.
    /// @param daCommitment DA commitment of the leaves.
    function submitRoot(uint64 epoch, bytes32 root, uint256 totalCumulative, bytes calldata daCommitment)
        external
        onlyRole(ROOT_SUBMITTER_ROLE)
    {
        if (root == bytes32(0)) revert EmptyRoot();
        if (totalCumulative < totalClaimed) revert TotalBelowClaimed(totalCumulative, totalClaimed);
        uint64 last = lastSubmittedEpoch();
        bool resubmit = epoch == last && last != 0 && _roots[last].disabled;
        if (epoch <= last && !resubmit) revert EpochNotIncreasing(epoch, last);
        if (!resubmit) _epochs.push(epoch);
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
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE or ROOT_SUBMITTER_ROLE; the root exists, is not
    ///      disabled and block.timestamp < activatedAt.
    /// @param epoch The epoch whose root to disable.
    function disableRoot(uint64 epoch) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender) && !hasRole(ROOT_SUBMITTER_ROLE, msg.sender)) {
            revert NotAuthorized(msg.sender);
        }
        RootInfo storage info = _roots[epoch];
        if (info.root == bytes32(0)) revert RootNotFound(epoch);
        if (info.disabled) revert RootAlreadyDisabled(epoch);
        if (block.timestamp >= info.activatedAt) revert RootAlreadyActive(epoch, info.activatedAt);
        info.disabled = true;
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
        uint64 epoch = latestActiveEpoch();
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

    /// @notice Adds OPEN to the payout pool (the escrow's settlements arrive by plain transfer instead).
    /// @dev Requirements: amount > 0; caller approved this contract.
    /// @param amount OPEN wei.
    function fund(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        emit Funded(msg.sender, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Changes the activation delay for future roots.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; delay ≤ MAX_ACTIVATION_DELAY.
    /// @param newDelay Seconds.
    function setActivationDelay(uint64 newDelay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newDelay > MAX_ACTIVATION_DELAY) revert DelayTooLong(newDelay, MAX_ACTIVATION_DELAY);
        emit ActivationDelayUpdated(activationDelay, newDelay);
        activationDelay = newDelay;
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
        uint256 n = _epochs.length;
        return n == 0 ? 0 : _epochs[n - 1];
    }

    /// @notice The newest epoch whose root is activated and not disabled (0 = none).
    function latestActiveEpoch() public view returns (uint64) {
        for (uint256 i = _epochs.length; i > 0; i--) {
            uint64 epoch = _epochs[i - 1];
            RootInfo storage info = _roots[epoch];
            if (!info.disabled && info.activatedAt <= block.timestamp) return epoch;
        }
        return 0;
    }

    /// @notice Number of submitted epochs (resubmissions count once).
    function epochCount() external view returns (uint256) {
        return _epochs.length;
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
}
