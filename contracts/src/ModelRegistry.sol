// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {DatanetRegistry} from "./DatanetRegistry.sol";

/// @title ModelRegistry — fine-tuned models, their provenance and prices
/// @notice A model is a LoRA adapter on a base model, trained on exact datanet versions with a training config,
///         served at a price per 1k input and per 1k output tokens (OPEN wei).
/// @dev Ids start at 1. Mutating calls are allowed to the model owner or to an OPERATOR_ROLE holder
///      (`registerModelFor` takes the owner explicitly), except `transferModelOwnership` (owner only: the operator
///      cannot take a model). Registration checks on chain that every claimed datanet version exists and that the
///      owner has access to its datanet (Open, granted, or bought for Paid), and refuses an adapter hash another
///      owner registered already (the same owner registering it again is allowed and flagged by
///      DuplicateAdapter).
contract ModelRegistry is AccessControl {
    /// @notice Role of the node's relaying account.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @notice One datanet version a model was trained on.
    struct DatanetVersionRef {
        uint256 datanetId;
        uint64 version;
    }

    struct Model {
        address owner;
        bool deprecated;
        uint64 registeredAt;
        /// Hash identifying the base model weights.
        bytes32 baseModelHash;
        /// Hash of the adapter file(s).
        bytes32 adapterHash;
        /// Hash of the canonical training config (hyperparameters, seed, dataset build).
        bytes32 trainingConfigHash;
        uint256 pricePer1kInput;
        uint256 pricePer1kOutput;
        string metadataURI;
    }

    /// @notice Most datanet versions one model may claim (bounds the registration loop).
    uint256 public constant MAX_TRAINED_ON = 64;

    /// @notice The datanet registry that `trainedOn` references are checked against.
    DatanetRegistry public immutable datanets;

    uint256 private _count;
    mapping(uint256 modelId => Model) private _models;
    mapping(uint256 modelId => DatanetVersionRef[]) private _trainedOn;
    /// First model registered with an adapter hash.
    mapping(bytes32 adapterHash => uint256 modelId) private _byAdapter;

    event ModelRegistered(
        uint256 indexed modelId,
        address indexed owner,
        bytes32 indexed adapterHash,
        bytes32 baseModelHash,
        bytes32 trainingConfigHash,
        DatanetVersionRef[] trainedOn,
        uint256 pricePer1kInput,
        uint256 pricePer1kOutput,
        string metadataURI
    );
    event PriceUpdated(uint256 indexed modelId, uint256 pricePer1kInput, uint256 pricePer1kOutput);
    event ModelDeprecated(uint256 indexed modelId);
    event ModelOwnershipTransferred(uint256 indexed modelId, address indexed previousOwner, address indexed newOwner);
    event ModelMetadataUpdated(uint256 indexed modelId, string metadataURI);
    /// @notice The same owner registered an adapter hash again (flag for the catalog; not an error).
    event DuplicateAdapter(uint256 indexed modelId, bytes32 indexed adapterHash, uint256 indexed firstModelId);

    error ModelNotFound(uint256 modelId);
    error NotModelOwner(uint256 modelId, address caller);
    error ModelIsDeprecated(uint256 modelId);
    error ZeroAddress();
    error EmptyHash();
    error UnknownDatanetVersion(uint256 datanetId, uint64 version);
    error NoDatanetAccess(uint256 datanetId, address owner);
    error AdapterAlreadyRegistered(bytes32 adapterHash, uint256 modelId, address modelOwner);
    error TooManyDatanetVersions(uint256 count, uint256 max);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants OPERATOR_ROLE).
    /// @param datanetRegistry The DatanetRegistry.
    constructor(address admin, DatanetRegistry datanetRegistry) {
        if (admin == address(0) || address(datanetRegistry) == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        datanets = datanetRegistry;
    }

    modifier onlyOwnerOrOperator(uint256 modelId) {
        address owner = _models[modelId].owner;
        if (owner == address(0)) revert ModelNotFound(modelId);
        if (msg.sender != owner && !hasRole(OPERATOR_ROLE, msg.sender)) revert NotModelOwner(modelId, msg.sender);
        _;
    }

    /// @notice Registers a model owned by the caller.
    /// @dev Requirements: base and adapter hashes non-zero; ≤ MAX_TRAINED_ON versions; every (datanetId, version)
    ///      exists (UnknownDatanetVersion) and the owner has access to it (NoDatanetAccess); the adapter hash is
    ///      not another owner's model (AdapterAlreadyRegistered).
    /// @param baseModelHash Hash identifying the base model.
    /// @param adapterHash Hash of the adapter.
    /// @param trainedOn Datanet versions the adapter was trained on (may be empty for a base model).
    /// @param trainingConfigHash Hash of the training config.
    /// @param metadataURI Where the model card lives.
    /// @param pricePer1kInput OPEN wei per 1,000 input tokens.
    /// @param pricePer1kOutput OPEN wei per 1,000 output tokens.
    /// @return modelId The new model's id.
    function registerModel(
        bytes32 baseModelHash,
        bytes32 adapterHash,
        DatanetVersionRef[] calldata trainedOn,
        bytes32 trainingConfigHash,
        string calldata metadataURI,
        uint256 pricePer1kInput,
        uint256 pricePer1kOutput
    ) external returns (uint256 modelId) {
        return _register(
            msg.sender, baseModelHash, adapterHash, trainedOn, trainingConfigHash, metadataURI, pricePer1kInput, pricePer1kOutput
        );
    }

    /// @notice Registers a model owned by `owner` (operator relays for a signed-in wallet).
    /// @dev Requirements: caller holds OPERATOR_ROLE; `owner` not zero; the rest as in `registerModel`.
    /// @param owner The model's owner.
    /// @param baseModelHash See `registerModel`.
    /// @param adapterHash See `registerModel`.
    /// @param trainedOn See `registerModel`.
    /// @param trainingConfigHash See `registerModel`.
    /// @param metadataURI See `registerModel`.
    /// @param pricePer1kInput See `registerModel`.
    /// @param pricePer1kOutput See `registerModel`.
    /// @return modelId The new model's id.
    function registerModelFor(
        address owner,
        bytes32 baseModelHash,
        bytes32 adapterHash,
        DatanetVersionRef[] calldata trainedOn,
        bytes32 trainingConfigHash,
        string calldata metadataURI,
        uint256 pricePer1kInput,
        uint256 pricePer1kOutput
    ) external onlyRole(OPERATOR_ROLE) returns (uint256 modelId) {
        return _register(
            owner, baseModelHash, adapterHash, trainedOn, trainingConfigHash, metadataURI, pricePer1kInput, pricePer1kOutput
        );
    }

    /// @notice Sets new prices.
    /// @dev Requirements: caller is the owner or an operator; the model is not deprecated.
    /// @param modelId The model.
    /// @param pricePer1kInput OPEN wei per 1,000 input tokens.
    /// @param pricePer1kOutput OPEN wei per 1,000 output tokens.
    function updatePrice(uint256 modelId, uint256 pricePer1kInput, uint256 pricePer1kOutput)
        external
        onlyOwnerOrOperator(modelId)
    {
        Model storage m = _models[modelId];
        if (m.deprecated) revert ModelIsDeprecated(modelId);
        m.pricePer1kInput = pricePer1kInput;
        m.pricePer1kOutput = pricePer1kOutput;
        emit PriceUpdated(modelId, pricePer1kInput, pricePer1kOutput);
    }

    /// @notice Replaces the metadata URI.
    /// @dev Requirements: caller is the owner or an operator.
    /// @param modelId The model.
    /// @param metadataURI The new URI.
    function setMetadataURI(uint256 modelId, string calldata metadataURI) external onlyOwnerOrOperator(modelId) {
        _models[modelId].metadataURI = metadataURI;
        emit ModelMetadataUpdated(modelId, metadataURI);
    }

    /// @notice Hands a model to a new owner.
    /// @dev Requirements: caller is the owner (not an operator); `newOwner` not zero.
    /// @param modelId The model.
    /// @param newOwner The new owner.
    function transferModelOwnership(uint256 modelId, address newOwner) external {
        address previous = _get(modelId).owner;
        if (msg.sender != previous) revert NotModelOwner(modelId, msg.sender);
        if (newOwner == address(0)) revert ZeroAddress();
        _models[modelId].owner = newOwner;
        emit ModelOwnershipTransferred(modelId, previous, newOwner);
    }

    /// @notice Marks a model deprecated for good: the node stops serving it; prices freeze.
    /// @dev Requirements: caller is the owner or an operator; not already deprecated.
    /// @param modelId The model.
    function deprecate(uint256 modelId) external onlyOwnerOrOperator(modelId) {
        Model storage m = _models[modelId];
        if (m.deprecated) revert ModelIsDeprecated(modelId);
        m.deprecated = true;
        emit ModelDeprecated(modelId);
    }

    // ---- views ----

    /// @notice Number of models registered; ids are 1..modelCount().
    function modelCount() external view returns (uint256) {
        return _count;
    }

    /// @notice A model's record. Reverts with ModelNotFound for an unknown id.
    /// @param modelId The model.
    function getModel(uint256 modelId) external view returns (Model memory) {
        return _get(modelId);
    }

    /// @notice The datanet versions a model was trained on.
    /// @param modelId The model.
    function getTrainedOn(uint256 modelId) external view returns (DatanetVersionRef[] memory) {
        _get(modelId);
        return _trainedOn[modelId];
    }

    /// @notice The first model registered with `adapterHash` (0 = none).
    /// @param adapterHash The adapter hash.
    function modelByAdapter(bytes32 adapterHash) external view returns (uint256) {
        return _byAdapter[adapterHash];
    }

    /// @notice Whether a model exists and is not deprecated.
    /// @param modelId The model.
    function isActive(uint256 modelId) external view returns (bool) {
        Model storage m = _models[modelId];
        return m.owner != address(0) && !m.deprecated;
    }

    // ---- internal ----

    function _register(
        address owner,
        bytes32 baseModelHash,
        bytes32 adapterHash,
        DatanetVersionRef[] calldata trainedOn,
        bytes32 trainingConfigHash,
        string calldata metadataURI,
        uint256 pricePer1kInput,
        uint256 pricePer1kOutput
    ) private returns (uint256 modelId) {
        if (owner == address(0)) revert ZeroAddress();
        if (baseModelHash == bytes32(0) || adapterHash == bytes32(0)) revert EmptyHash();
        modelId = ++_count;
        _claimAdapter(modelId, owner, adapterHash);
        _recordTrainedOn(modelId, owner, trainedOn);
        _models[modelId] = Model({
            owner: owner,
            deprecated: false,
            registeredAt: uint64(block.timestamp),
            baseModelHash: baseModelHash,
            adapterHash: adapterHash,
            trainingConfigHash: trainingConfigHash,
            pricePer1kInput: pricePer1kInput,
            pricePer1kOutput: pricePer1kOutput,
            metadataURI: metadataURI
        });
        emit ModelRegistered(
            modelId,
            owner,
            adapterHash,
            baseModelHash,
            trainingConfigHash,
            trainedOn,
            pricePer1kInput,
            pricePer1kOutput,
            metadataURI
        );
    }

    /// @dev Refuses another owner's adapter hash; flags the same owner's repeat.
    function _claimAdapter(uint256 modelId, address owner, bytes32 adapterHash) private {
        uint256 first = _byAdapter[adapterHash];
        if (first == 0) {
            _byAdapter[adapterHash] = modelId;
            return;
        }
        address firstOwner = _models[first].owner;
        if (firstOwner != owner) revert AdapterAlreadyRegistered(adapterHash, first, firstOwner);
        emit DuplicateAdapter(modelId, adapterHash, first);
    }

    /// @dev Every claimed version exists and its datanet is accessible to the owner.
    function _recordTrainedOn(uint256 modelId, address owner, DatanetVersionRef[] calldata trainedOn) private {
        if (trainedOn.length > MAX_TRAINED_ON) revert TooManyDatanetVersions(trainedOn.length, MAX_TRAINED_ON);
        DatanetVersionRef[] storage refs = _trainedOn[modelId];
        for (uint256 i = 0; i < trainedOn.length; i++) {
            DatanetVersionRef calldata r = trainedOn[i];
            // latestVersion reverts DatanetNotFound for an unknown datanet.
            if (r.version == 0 || r.version > datanets.latestVersion(r.datanetId)) {
                revert UnknownDatanetVersion(r.datanetId, r.version);
            }
            if (!datanets.hasAccess(r.datanetId, owner)) revert NoDatanetAccess(r.datanetId, owner);
            refs.push(r);
        }
    }

    function _get(uint256 modelId) private view returns (Model storage m) {
        m = _models[modelId];
        if (m.owner == address(0)) revert ModelNotFound(modelId);
    }
}
