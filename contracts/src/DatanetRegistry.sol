// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @notice The rewards pool (RewardsDistributor): `fund` pulls OPEN and counts it as funding of future roots.
interface IRewardsPool {
    function fund(uint256 amount) external;
}

/// @notice The validator stake the registry checks (Staking).
interface IValidatorStake {
    function stakeOf(address account) external view returns (uint256);
}

/// @title DatanetRegistry — datanets, their validators, access and committed versions
/// @notice A datanet is a community dataset with an owner, a metadata URI, an access policy and a validation
///         policy. Each published version anchors the Merkle root of its accepted rows, the row count, the
///         content hash of the snapshot and the DA commitment of the snapshot blob.
///         Paid access: `purchaseAccess(id, maxPrice)` pays the price into the rewards pool (not the owner's
///         wallet) and records how it splits: `ownerShareBps` to the datanet owner, the rest to the contributors of
///         the latest version (the node puts both into the next rewards root). Bought access cannot be revoked.
///         Validators must hold at least `minValidatorStake` in the linked Staking contract when added.
/// @dev Ids start at 1 (0 means "none"); version numbers start at 1 per datanet and increase by one.
///      Mutating calls are allowed to the datanet owner or to an OPERATOR_ROLE holder (the node, relaying
///      for a user who signed in with a wallet; `createDatanetFor` takes the owner explicitly), except
///      `transferDatanetOwnership` (owner only: the operator cannot take a datanet). Parameters (rewards pool,
///      staking, minimum validator stake, owner-share bounds) belong to DEFAULT_ADMIN_ROLE, the Timelock.
contract DatanetRegistry is AccessControl {
    using SafeERC20 for IERC20;

    /// @notice Role of the node's relaying account.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @notice Who may use a datanet's versions (e.g. to train on them).
    /// Open: everyone. Approval: accounts the owner/operator granted. Paid: granted, or bought with `purchaseAccess`.
    enum AccessPolicy {
        Open,
        Approval,
        Paid
    }

    struct Datanet {
        address owner;
        AccessPolicy accessPolicy;
        /// Number of validator approvals a contribution needs; 0 = automatic checks only.
        uint32 requiredApprovals;
        /// Latest committed version number; 0 = none yet.
        uint64 latestVersion;
        uint64 createdAt;
        /// Price of access in OPEN wei (only meaningful for Paid).
        uint256 accessPrice;
        string metadataURI;
    }

    struct Version {
        /// Merkle root over the version's accepted rows.
        bytes32 merkleRoot;
        /// Content hash (e.g. sha256) of the snapshot blob.
        bytes32 contentHash;
        uint64 rowCount;
        uint64 committedAt;
        /// Data-availability commitment of the snapshot blob (local blob id or EigenDA certificate).
        bytes daCommitment;
    }

    /// @notice Upper bound of any owner share (basis points).
    uint16 public constant BPS = 10_000;

    /// @notice Token used to pay for access to Paid datanets.
    IERC20 public immutable token;
    /// @notice Where paid-access revenue goes (the RewardsDistributor); zero = purchases disabled.
    address public rewardsPool;
    /// @notice The Staking contract validators must be staked in; zero = validators cannot be added.
    address public staking;
    /// @notice Smallest stake (OPEN wei) a validator needs when added.
    uint256 public minValidatorStake = 1;
    /// @notice Owner share of paid access given to new datanets (bps); 0 = everything to the contributors (the
    ///         node credits the owner only while a datanet has no accepted rows).
    uint16 public defaultOwnerShareBps = 0;
    /// @notice Largest owner share a datanet may set (bps); the rest goes to contributors.
    uint16 public maxOwnerShareBps = 5_000;

    uint256 private _count;
    mapping(uint256 datanetId => Datanet) private _datanets;
    mapping(uint256 datanetId => mapping(uint64 version => Version)) private _versions;
    mapping(uint256 datanetId => mapping(address account => bool)) private _validators;
    mapping(uint256 datanetId => uint256) private _validatorCount;
    mapping(uint256 datanetId => mapping(address account => bool)) private _access;
    mapping(uint256 datanetId => mapping(address account => bool)) private _purchased;
    mapping(uint256 datanetId => uint16) private _ownerShareBps;

    event DatanetCreated(
        uint256 indexed datanetId,
        address indexed owner,
        AccessPolicy accessPolicy,
        uint256 accessPrice,
        uint32 requiredApprovals,
        string metadataURI
    );
    event DatanetOwnershipTransferred(uint256 indexed datanetId, address indexed previousOwner, address indexed newOwner);
    event DatanetMetadataUpdated(uint256 indexed datanetId, string metadataURI);
    event AccessPolicyUpdated(uint256 indexed datanetId, AccessPolicy accessPolicy, uint256 accessPrice);
    event ValidationPolicyUpdated(uint256 indexed datanetId, uint32 requiredApprovals);
    event ValidatorAdded(uint256 indexed datanetId, address indexed validator);
    event ValidatorRemoved(uint256 indexed datanetId, address indexed validator);
    event VersionCommitted(
        uint256 indexed datanetId,
        uint64 indexed version,
        bytes32 merkleRoot,
        uint64 rowCount,
        bytes32 contentHash,
        bytes daCommitment
    );
    event AccessGranted(uint256 indexed datanetId, address indexed account, address indexed grantedBy);
    event AccessRevoked(uint256 indexed datanetId, address indexed account, address indexed revokedBy);
    event AccessPurchased(uint256 indexed datanetId, address indexed account, uint256 price);
    /// @notice How a purchase's price splits (both parts are in the rewards pool; the node's next root pays them).
    event AccessRevenue(
        uint256 indexed datanetId, uint64 indexed version, uint256 price, uint256 ownerAmount, uint256 contributorsAmount
    );
    event OwnerShareUpdated(uint256 indexed datanetId, uint16 ownerShareBps);
    event RewardsPoolUpdated(address indexed previousPool, address indexed newPool);
    event StakingUpdated(address indexed previousStaking, address indexed newStaking);
    event MinValidatorStakeUpdated(uint256 previousStake, uint256 newStake);
    event OwnerShareBoundsUpdated(uint16 defaultOwnerShareBps, uint16 maxOwnerShareBps);

    error DatanetNotFound(uint256 datanetId);
    error NotDatanetOwner(uint256 datanetId, address caller);
    error ZeroAddress();
    error InvalidAccessPrice(AccessPolicy accessPolicy, uint256 accessPrice);
    error VersionNotFound(uint256 datanetId, uint64 version);
    error EmptyVersion(uint256 datanetId);
    error ValidatorAlreadyAdded(uint256 datanetId, address validator);
    error ValidatorNotFound(uint256 datanetId, address validator);
    error AccessNotForSale(uint256 datanetId, AccessPolicy accessPolicy);
    error ZeroAmount();
    error AccessAlreadyHeld(uint256 datanetId, address account);
    error PriceAboveMax(uint256 datanetId, uint256 price, uint256 maxPrice);
    error PurchasedAccessIrrevocable(uint256 datanetId, address account);
    error RewardsPoolNotSet();
    error StakingNotSet();
    error ValidatorNotStaked(uint256 datanetId, address validator, uint256 stake, uint256 minStake);
    error OwnerShareTooHigh(uint256 datanetId, uint16 ownerShareBps, uint16 maxOwnerShareBps);
    error InvalidOwnerShareBounds(uint16 defaultOwnerShareBps, uint16 maxOwnerShareBps);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants OPERATOR_ROLE).
    /// @param paymentToken The OPEN token (paid access).
    constructor(address admin, IERC20 paymentToken) {
        if (admin == address(0) || address(paymentToken) == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        token = paymentToken;
    }

    modifier onlyOwnerOrOperator(uint256 datanetId) {
        address owner = _datanets[datanetId].owner;
        if (owner == address(0)) revert DatanetNotFound(datanetId);
        if (msg.sender != owner && !hasRole(OPERATOR_ROLE, msg.sender)) revert NotDatanetOwner(datanetId, msg.sender);
        _;
    }

    // ---- creation and ownership ----

    /// @notice Creates a datanet owned by the caller.
    /// @dev Requirements: Paid needs a non-zero price; Open and Approval need price 0.
    /// @param metadataURI Where the datanet's description lives (name, schema, license...).
    /// @param accessPolicy Open, Approval or Paid.
    /// @param accessPrice Price of access in OPEN wei for Paid; 0 otherwise.
    /// @param requiredApprovals Validator approvals a contribution needs; 0 = automatic checks only.
    /// @return datanetId The new datanet's id.
    function createDatanet(
        string calldata metadataURI,
        AccessPolicy accessPolicy,
        uint256 accessPrice,
        uint32 requiredApprovals
    ) external returns (uint256 datanetId) {
        return _create(msg.sender, metadataURI, accessPolicy, accessPrice, requiredApprovals);
    }

    /// @notice Creates a datanet owned by `owner` (operator relays for a signed-in wallet).
    /// @dev Requirements: caller holds OPERATOR_ROLE; `owner` is not zero; price rules as in `createDatanet`.
    /// @param owner The datanet's owner.
    /// @param metadataURI See `createDatanet`.
    /// @param accessPolicy See `createDatanet`.
    /// @param accessPrice See `createDatanet`.
    /// @param requiredApprovals See `createDatanet`.
    /// @return datanetId The new datanet's id.
    function createDatanetFor(
        address owner,
        string calldata metadataURI,
        AccessPolicy accessPolicy,
        uint256 accessPrice,
        uint32 requiredApprovals
    ) external onlyRole(OPERATOR_ROLE) returns (uint256 datanetId) {
        return _create(owner, metadataURI, accessPolicy, accessPrice, requiredApprovals);
    }

    /// @notice Hands a datanet to a new owner.
    /// @dev Requirements: caller is the owner (not an operator: a relaying key must not be able to take a
    ///      datanet); `newOwner` is not zero.
    /// @param datanetId The datanet.
    /// @param newOwner The new owner.
    function transferDatanetOwnership(uint256 datanetId, address newOwner) external {
        address previous = _get(datanetId).owner;
        if (msg.sender != previous) revert NotDatanetOwner(datanetId, msg.sender);
        if (newOwner == address(0)) revert ZeroAddress();
        _datanets[datanetId].owner = newOwner;
        emit DatanetOwnershipTransferred(datanetId, previous, newOwner);
    }

    /// @notice Replaces the metadata URI.
    /// @dev Requirements: caller is the owner or an operator.
    /// @param datanetId The datanet.
    /// @param metadataURI The new URI.
    function setMetadataURI(uint256 datanetId, string calldata metadataURI) external onlyOwnerOrOperator(datanetId) {
        _datanets[datanetId].metadataURI = metadataURI;
        emit DatanetMetadataUpdated(datanetId, metadataURI);
    }

    /// @notice Changes the access policy and price. Existing grants stay.
    /// @dev Requirements: caller is the owner or an operator; price rules as in `createDatanet`.
    /// @param datanetId The datanet.
    /// @param accessPolicy New policy.
    /// @param accessPrice New price (Paid only; 0 otherwise).
    function setAccessPolicy(uint256 datanetId, AccessPolicy accessPolicy, uint256 accessPrice)
        external
        onlyOwnerOrOperator(datanetId)
    {
        _checkPrice(accessPolicy, accessPrice);
        Datanet storage d = _datanets[datanetId];
        d.accessPolicy = accessPolicy;
        d.accessPrice = accessPrice;
        emit AccessPolicyUpdated(datanetId, accessPolicy, accessPrice);
    }

    /// @notice Changes how many validator approvals a contribution needs (0 = automatic checks only).
    /// @dev Requirements: caller is the owner or an operator.
    /// @param datanetId The datanet.
    /// @param requiredApprovals New count.
    function setValidationPolicy(uint256 datanetId, uint32 requiredApprovals) external onlyOwnerOrOperator(datanetId) {
        _datanets[datanetId].requiredApprovals = requiredApprovals;
        emit ValidationPolicyUpdated(datanetId, requiredApprovals);
    }

    /// @notice Sets the owner share of the datanet's paid-access revenue (the rest goes to its contributors).
    /// @dev Requirements: caller is the owner or an operator; bps ≤ maxOwnerShareBps.
    /// @param datanetId The datanet.
    /// @param ownerShareBps Basis points.
    function setOwnerShare(uint256 datanetId, uint16 ownerShareBps) external onlyOwnerOrOperator(datanetId) {
        if (ownerShareBps > maxOwnerShareBps) revert OwnerShareTooHigh(datanetId, ownerShareBps, maxOwnerShareBps);
        _ownerShareBps[datanetId] = ownerShareBps;
        emit OwnerShareUpdated(datanetId, ownerShareBps);
    }

    // ---- validators ----

    /// @notice Adds a validator to a datanet.
    /// @dev Requirements: caller is the owner or an operator; `validator` is not zero and not yet a validator; it
    ///      holds at least minValidatorStake in `staking` (ValidatorNotStaked; StakingNotSet before wiring).
    /// @param datanetId The datanet.
    /// @param validator The account to add.
    function addValidator(uint256 datanetId, address validator) external onlyOwnerOrOperator(datanetId) {
        if (validator == address(0)) revert ZeroAddress();
        if (_validators[datanetId][validator]) revert ValidatorAlreadyAdded(datanetId, validator);
        if (staking == address(0)) revert StakingNotSet();
        uint256 staked = IValidatorStake(staking).stakeOf(validator);
        if (staked < minValidatorStake) revert ValidatorNotStaked(datanetId, validator, staked, minValidatorStake);
        _validators[datanetId][validator] = true;
        _validatorCount[datanetId] += 1;
        emit ValidatorAdded(datanetId, validator);
    }

    /// @notice Removes a validator from a datanet.
    /// @dev Requirements: caller is the owner or an operator; `validator` is a validator.
    /// @param datanetId The datanet.
    /// @param validator The account to remove.
    function removeValidator(uint256 datanetId, address validator) external onlyOwnerOrOperator(datanetId) {
        if (!_validators[datanetId][validator]) revert ValidatorNotFound(datanetId, validator);
        _validators[datanetId][validator] = false;
        _validatorCount[datanetId] -= 1;
        emit ValidatorRemoved(datanetId, validator);
    }

    // ---- versions ----

    /// @notice Publishes the next version of a datanet.
    /// @dev Requirements: caller is the owner or an operator; `merkleRoot` non-zero and `rowCount` > 0.
    /// @param datanetId The datanet.
    /// @param merkleRoot Merkle root over the version's accepted rows.
    /// @param rowCount Number of rows in the version.
    /// @param daCommitment DA commitment of the snapshot blob.
    /// @param contentHash Content hash of the snapshot blob.
    /// @return version The new version number (previous latest + 1).
    function commitVersion(
        uint256 datanetId,
        bytes32 merkleRoot,
        uint64 rowCount,
        bytes calldata daCommitment,
        bytes32 contentHash
    ) external onlyOwnerOrOperator(datanetId) returns (uint64 version) {
        if (merkleRoot == bytes32(0) || rowCount == 0) revert EmptyVersion(datanetId);
        Datanet storage d = _datanets[datanetId];
        version = d.latestVersion + 1;
        d.latestVersion = version;
        _versions[datanetId][version] = Version({
            merkleRoot: merkleRoot,
            contentHash: contentHash,
            rowCount: rowCount,
            committedAt: uint64(block.timestamp),
            daCommitment: daCommitment
        });
        emit VersionCommitted(datanetId, version, merkleRoot, rowCount, contentHash, daCommitment);
    }

    // ---- access ----

    /// @notice Grants `account` access to a datanet (Approval or Paid paid off-chain).
    /// @dev Requirements: caller is the owner or an operator; `account` not zero. Granting twice is a no-op
    ///      without an event.
    /// @param datanetId The datanet.
    /// @param account The account.
    function grantAccess(uint256 datanetId, address account) external onlyOwnerOrOperator(datanetId) {
        if (account == address(0)) revert ZeroAddress();
        if (_access[datanetId][account]) return;
        _access[datanetId][account] = true;
        emit AccessGranted(datanetId, account, msg.sender);
    }

    /// @notice Revokes an explicit grant. Does not affect Open datanets (everyone has access) or the owner.
    /// @dev Requirements: caller is the owner or an operator; the access was not bought
    ///      (PurchasedAccessIrrevocable). Revoking a missing grant is a no-op without an event.
    /// @param datanetId The datanet.
    /// @param account The account.
    function revokeAccess(uint256 datanetId, address account) external onlyOwnerOrOperator(datanetId) {
        if (_purchased[datanetId][account]) revert PurchasedAccessIrrevocable(datanetId, account);
        if (!_access[datanetId][account]) return;
        _access[datanetId][account] = false;
        emit AccessRevoked(datanetId, account, msg.sender);
    }

    /// @notice Buys access to a Paid datanet: moves `accessPrice` OPEN from the caller into the rewards pool, split
    ///         between the owner (ownerShareBps) and the latest version's contributors (AccessRevenue).
    /// @dev Requirements: the datanet is Paid; price ≤ maxPrice (PriceAboveMax: a price raised in front of the
    ///      purchase cannot be charged); the caller has no access yet; the caller approved the price; the rewards
    ///      pool is set. The access can never be revoked.
    /// @param datanetId The datanet.
    /// @param maxPrice The most the caller agrees to pay (OPEN wei).
    function purchaseAccess(uint256 datanetId, uint256 maxPrice) external {
        Datanet storage d = _get(datanetId);
        if (d.accessPolicy != AccessPolicy.Paid) revert AccessNotForSale(datanetId, d.accessPolicy);
        uint256 price = d.accessPrice;
        if (price > maxPrice) revert PriceAboveMax(datanetId, price, maxPrice);
        if (hasAccess(datanetId, msg.sender)) revert AccessAlreadyHeld(datanetId, msg.sender);
        address pool = rewardsPool;
        if (pool == address(0)) revert RewardsPoolNotSet();
        _access[datanetId][msg.sender] = true;
        _purchased[datanetId][msg.sender] = true;
        uint256 ownerAmount = price * ownerShareOf(datanetId) / BPS;
        emit AccessPurchased(datanetId, msg.sender, price);
        emit AccessGranted(datanetId, msg.sender, msg.sender);
        emit AccessRevenue(datanetId, d.latestVersion, price, ownerAmount, price - ownerAmount);
        token.safeTransferFrom(msg.sender, address(this), price);
        token.forceApprove(pool, price);
        IRewardsPool(pool).fund(price);
    }

    // ---- admin (the Timelock) ----

    /// @notice Sets where paid-access revenue goes.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; not zero.
    /// @param pool The RewardsDistributor.
    function setRewardsPool(address pool) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (pool == address(0)) revert ZeroAddress();
        emit RewardsPoolUpdated(rewardsPool, pool);
        rewardsPool = pool;
    }

    /// @notice Sets the Staking contract validators must be staked in.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; not zero.
    /// @param staking_ The Staking contract.
    function setStaking(address staking_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (staking_ == address(0)) revert ZeroAddress();
        emit StakingUpdated(staking, staking_);
        staking = staking_;
    }

    /// @notice Sets the smallest stake a validator needs when added.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE.
    /// @param minStake OPEN wei (≥ 1: a validator must be staked).
    function setMinValidatorStake(uint256 minStake) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (minStake == 0) revert ZeroAmount();
        emit MinValidatorStakeUpdated(minValidatorStake, minStake);
        minValidatorStake = minStake;
    }

    /// @notice Sets the default owner share of new datanets and the most any datanet may set.
    /// @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; default ≤ max ≤ BPS.
    /// @param defaultBps Owner share given to new datanets.
    /// @param maxBps Largest owner share allowed.
    function setOwnerShareBounds(uint16 defaultBps, uint16 maxBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (defaultBps > maxBps || maxBps > BPS) revert InvalidOwnerShareBounds(defaultBps, maxBps);
        defaultOwnerShareBps = defaultBps;
        maxOwnerShareBps = maxBps;
        emit OwnerShareBoundsUpdated(defaultBps, maxBps);
    }

    // ---- views ----

    /// @notice Number of datanets created; ids are 1..datanetCount().
    function datanetCount() external view returns (uint256) {
        return _count;
    }

    /// @notice A datanet's record. Reverts with DatanetNotFound for an unknown id.
    /// @param datanetId The datanet.
    function getDatanet(uint256 datanetId) external view returns (Datanet memory) {
        return _get(datanetId);
    }

    /// @notice A committed version. Reverts with VersionNotFound for an unknown version.
    /// @param datanetId The datanet.
    /// @param version The version number (1-based).
    function getVersion(uint256 datanetId, uint64 version) external view returns (Version memory) {
        Datanet storage d = _get(datanetId);
        if (version == 0 || version > d.latestVersion) revert VersionNotFound(datanetId, version);
        return _versions[datanetId][version];
    }

    /// @notice The latest version number of a datanet (0 = none committed yet).
    /// @param datanetId The datanet.
    function latestVersion(uint256 datanetId) external view returns (uint64) {
        return _get(datanetId).latestVersion;
    }

    /// @notice Whether `account` may use the datanet: Open → everyone; otherwise the owner or a granted account.
    /// @param datanetId The datanet.
    /// @param account The account.
    function hasAccess(uint256 datanetId, address account) public view returns (bool) {
        Datanet storage d = _get(datanetId);
        return d.accessPolicy == AccessPolicy.Open || account == d.owner || _access[datanetId][account];
    }

    /// @notice The owner's share of the datanet's paid access (bps), capped by the current maxOwnerShareBps.
    /// @param datanetId The datanet.
    function ownerShareOf(uint256 datanetId) public view returns (uint16) {
        uint16 bps = _ownerShareBps[datanetId];
        return bps > maxOwnerShareBps ? maxOwnerShareBps : bps;
    }

    /// @notice Whether `account` bought access to the datanet (such access cannot be revoked).
    /// @param datanetId The datanet.
    /// @param account The account.
    function hasPurchased(uint256 datanetId, address account) external view returns (bool) {
        return _purchased[datanetId][account];
    }

    /// @notice Whether `account` is a validator of the datanet AND still holds minValidatorStake.
    /// @param datanetId The datanet.
    /// @param account The account.
    function isActiveValidator(uint256 datanetId, address account) external view returns (bool) {
        _get(datanetId);
        return _validators[datanetId][account] && staking != address(0)
            && IValidatorStake(staking).stakeOf(account) >= minValidatorStake;
    }

    /// @notice Whether `account` is a validator of the datanet.
    /// @param datanetId The datanet.
    /// @param account The account.
    function isValidator(uint256 datanetId, address account) external view returns (bool) {
        _get(datanetId);
        return _validators[datanetId][account];
    }

    /// @notice Number of validators of the datanet.
    /// @param datanetId The datanet.
    function validatorCount(uint256 datanetId) external view returns (uint256) {
        _get(datanetId);
        return _validatorCount[datanetId];
    }

    // ---- internal ----

    function _create(
        address owner,
        string calldata metadataURI,
        AccessPolicy accessPolicy,
        uint256 accessPrice,
        uint32 requiredApprovals
    ) private returns (uint256 datanetId) {
        if (owner == address(0)) revert ZeroAddress();
        _checkPrice(accessPolicy, accessPrice);
        datanetId = ++_count;
        _datanets[datanetId] = Datanet({
            owner: owner,
            accessPolicy: accessPolicy,
            requiredApprovals: requiredApprovals,
            latestVersion: 0,
            createdAt: uint64(block.timestamp),
            accessPrice: accessPrice,
            metadataURI: metadataURI
        });
        _ownerShareBps[datanetId] = defaultOwnerShareBps;
        emit DatanetCreated(datanetId, owner, accessPolicy, accessPrice, requiredApprovals, metadataURI);
    }

    function _checkPrice(AccessPolicy accessPolicy, uint256 accessPrice) private pure {
        bool paid = accessPolicy == AccessPolicy.Paid;
        if (paid != (accessPrice > 0)) revert InvalidAccessPrice(accessPolicy, accessPrice);
    }

    function _get(uint256 datanetId) private view returns (Datanet storage d) {
        d = _datanets[datanetId];
        if (d.owner == address(0)) revert DatanetNotFound(datanetId);
    }
}
