// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title DatanetRegistry — datanets, their validators, access and committed versions
/// @notice A datanet is a community dataset with an owner, a metadata URI, an access policy and a validation
///         policy. Each published version anchors the Merkle root of its accepted rows, the row count, the
///         content hash of the snapshot and the DA commitment of the snapshot blob.
/// @dev Ids start at 1 (0 means "none"); version numbers start at 1 per datanet and increase by one.
///      Every mutating call is allowed to the datanet owner or to an OPERATOR_ROLE holder (the node, relaying
///      for a user who signed in with a wallet; `createDatanetFor` takes the owner explicitly).
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

    /// @notice Token used to pay for access to Paid datanets.
    IERC20 public immutable token;

    uint256 private _count;
    mapping(uint256 datanetId => Datanet) private _datanets;
    mapping(uint256 datanetId => mapping(uint64 version => Version)) private _versions;
    mapping(uint256 datanetId => mapping(address account => bool)) private _validators;
    mapping(uint256 datanetId => uint256) private _validatorCount;
    mapping(uint256 datanetId => mapping(address account => bool)) private _access;

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

    error DatanetNotFound(uint256 datanetId);
    error NotDatanetOwner(uint256 datanetId, address caller);
    error ZeroAddress();
    error InvalidAccessPrice(AccessPolicy accessPolicy, uint256 accessPrice);
    error VersionNotFound(uint256 datanetId, uint64 version);
    error EmptyVersion(uint256 datanetId);
    error ValidatorAlreadyAdded(uint256 datanetId, address validator);
    error ValidatorNotFound(uint256 datanetId, address validator);
    error AccessNotForSale(uint256 datanetId, AccessPolicy accessPolicy);
    error AccessAlreadyHeld(uint256 datanetId, address account);

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
    /// @dev Requirements: caller is the owner or an operator; `newOwner` is not zero.
    /// @param datanetId The datanet.
    /// @param newOwner The new owner.
    function transferDatanetOwnership(uint256 datanetId, address newOwner) external onlyOwnerOrOperator(datanetId) {
        if (newOwner == address(0)) revert ZeroAddress();
        address previous = _datanets[datanetId].owner;
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

    // ---- validators ----

    /// @notice Adds a validator to a datanet.
    /// @dev Requirements: caller is the owner or an operator; `validator` is not zero and not yet a validator.
    /// @param datanetId The datanet.
    /// @param validator The account to add.
    function addValidator(uint256 datanetId, address validator) external onlyOwnerOrOperator(datanetId) {
        if (validator == address(0)) revert ZeroAddress();
        if (_validators[datanetId][validator]) revert ValidatorAlreadyAdded(datanetId, validator);
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
    /// @dev Requirements: caller is the owner or an operator. Revoking a missing grant is a no-op without an event.
    /// @param datanetId The datanet.
    /// @param account The account.
    function revokeAccess(uint256 datanetId, address account) external onlyOwnerOrOperator(datanetId) {
        if (!_access[datanetId][account]) return;
        _access[datanetId][account] = false;
        emit AccessRevoked(datanetId, account, msg.sender);
    }

    /// @notice Buys access to a Paid datanet: moves `accessPrice` OPEN from the caller to the datanet owner.
    /// @dev Requirements: the datanet is Paid; the caller has no access yet; the caller approved the price.
    /// @param datanetId The datanet.
    function purchaseAccess(uint256 datanetId) external {
        Datanet storage d = _get(datanetId);
        if (d.accessPolicy != AccessPolicy.Paid) revert AccessNotForSale(datanetId, d.accessPolicy);
        if (hasAccess(datanetId, msg.sender)) revert AccessAlreadyHeld(datanetId, msg.sender);
        _access[datanetId][msg.sender] = true;
        uint256 price = d.accessPrice;
        emit AccessPurchased(datanetId, msg.sender, price);
        emit AccessGranted(datanetId, msg.sender, msg.sender);
        token.safeTransferFrom(msg.sender, d.owner, price);
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
