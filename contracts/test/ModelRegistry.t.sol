// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {DatanetRegistry} from "../src/DatanetRegistry.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

contract ModelRegistryTest is Fixture {
    uint256 internal dn;
    bytes32 constant BASE = keccak256("base-model");
    bytes32 constant ADAPTER = keccak256("adapter");
    bytes32 constant CONFIG = keccak256("config");

    function setUp() public override {
        super.setUp();
        vm.startPrank(alice);
        dn = datanets.createDatanet("ipfs://dn", DatanetRegistry.AccessPolicy.Open, 0, 0);
        datanets.commitVersion(dn, keccak256("r1"), 3, "", bytes32(0));
        datanets.commitVersion(dn, keccak256("r2"), 5, "", bytes32(0));
        vm.stopPrank();
    }

    function _refs(uint256 id, uint64 version) internal pure returns (ModelRegistry.DatanetVersionRef[] memory r) {
        r = new ModelRegistry.DatanetVersionRef[](1);
        r[0] = ModelRegistry.DatanetVersionRef({datanetId: id, version: version});
    }

    function _register(address owner) internal returns (uint256) {
        vm.prank(owner);
        return models.registerModel(BASE, ADAPTER, _refs(dn, 2), CONFIG, "ipfs://card", 10, 30);
    }

    function test_register_storesEverything() public {
        uint256 id = _register(bob);
        assertEq(id, 1);
        assertEq(models.modelCount(), 1);
        ModelRegistry.Model memory m = models.getModel(id);
        assertEq(m.owner, bob);
        assertEq(m.baseModelHash, BASE);
        assertEq(m.adapterHash, ADAPTER);
        assertEq(m.trainingConfigHash, CONFIG);
        assertEq(m.pricePer1kInput, 10);
        assertEq(m.pricePer1kOutput, 30);
        assertEq(m.metadataURI, "ipfs://card");
        assertFalse(m.deprecated);
        assertTrue(models.isActive(id));
        ModelRegistry.DatanetVersionRef[] memory refs = models.getTrainedOn(id);
        assertEq(refs.length, 1);
        assertEq(refs[0].datanetId, dn);
        assertEq(refs[0].version, 2);
    }

    function test_register_checksDatanetVersions() public {
        vm.startPrank(bob);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownDatanetVersion.selector, dn, 3));
        models.registerModel(BASE, ADAPTER, _refs(dn, 3), CONFIG, "", 0, 0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownDatanetVersion.selector, dn, 0));
        models.registerModel(BASE, ADAPTER, _refs(dn, 0), CONFIG, "", 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.DatanetNotFound.selector, 77));
        models.registerModel(BASE, ADAPTER, _refs(77, 1), CONFIG, "", 0, 0);
        vm.expectRevert(ModelRegistry.EmptyHash.selector);
        models.registerModel(bytes32(0), ADAPTER, _refs(dn, 1), CONFIG, "", 0, 0);
        // No datanets at all is allowed (e.g. the base model itself, served at a price).
        models.registerModel(BASE, ADAPTER, new ModelRegistry.DatanetVersionRef[](0), CONFIG, "", 0, 0);
        vm.stopPrank();
    }

    function test_registerFor_onlyOperator() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, bob, models.OPERATOR_ROLE())
        );
        vm.prank(bob);
        models.registerModelFor(carol, BASE, ADAPTER, _refs(dn, 1), CONFIG, "", 1, 1);
        vm.prank(node);
        uint256 id = models.registerModelFor(carol, BASE, ADAPTER, _refs(dn, 1), CONFIG, "", 1, 1);
        assertEq(models.getModel(id).owner, carol);
    }

    function test_updatePrice_andDeprecate() public {
        uint256 id = _register(bob);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwner.selector, id, carol));
        vm.prank(carol);
        models.updatePrice(id, 1, 1);
        vm.prank(bob);
        models.updatePrice(id, 11, 33);
        assertEq(models.getModel(id).pricePer1kInput, 11);
        assertEq(models.getModel(id).pricePer1kOutput, 33);
        vm.prank(node);
        models.updatePrice(id, 12, 34);
        assertEq(models.getModel(id).pricePer1kOutput, 34);

        vm.prank(bob);
        models.deprecate(id);
        assertFalse(models.isActive(id));
        assertTrue(models.getModel(id).deprecated);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelIsDeprecated.selector, id));
        vm.prank(bob);
        models.updatePrice(id, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelIsDeprecated.selector, id));
        vm.prank(bob);
        models.deprecate(id);
    }

    function test_transferOwnership() public {
        uint256 id = _register(bob);
        // The operator relays owner calls but cannot take the model.
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwner.selector, id, node));
        vm.prank(node);
        models.transferModelOwnership(id, node);
        vm.prank(bob);
        models.transferModelOwnership(id, carol);
        assertEq(models.getModel(id).owner, carol);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotModelOwner.selector, id, bob));
        vm.prank(bob);
        models.updatePrice(id, 1, 1);
    }

    /// Claiming a paid datanet's version needs the access bought (the operator cannot register around it).
    function test_register_checksDatanetAccess() public {
        vm.startPrank(alice);
        uint256 paid = datanets.createDatanet("ipfs://paid", DatanetRegistry.AccessPolicy.Paid, 2 ether, 0);
        datanets.commitVersion(paid, keccak256("p1"), 3, "", bytes32(0));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NoDatanetAccess.selector, paid, bob));
        vm.prank(bob);
        models.registerModel(BASE, ADAPTER, _refs(paid, 1), CONFIG, "", 0, 0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NoDatanetAccess.selector, paid, bob));
        vm.prank(node);
        models.registerModelFor(bob, BASE, ADAPTER, _refs(paid, 1), CONFIG, "", 0, 0);
        fund(bob, 2 ether, address(datanets));
        vm.prank(bob);
        datanets.purchaseAccess(paid, 2 ether);
        vm.prank(bob);
        uint256 id = models.registerModel(BASE, ADAPTER, _refs(paid, 1), CONFIG, "", 0, 0);
        assertEq(models.getTrainedOn(id)[0].datanetId, paid);
        // The owner of the datanet has access without buying.
        vm.prank(alice);
        models.registerModel(BASE, keccak256("alice-adapter"), _refs(paid, 1), CONFIG, "", 0, 0);
    }

    function test_register_duplicateAdapter() public {
        uint256 first = _register(bob);
        assertEq(models.modelByAdapter(ADAPTER), first);
        // Another owner cannot re-register bob's adapter as theirs.
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AdapterAlreadyRegistered.selector, ADAPTER, first, bob));
        vm.prank(carol);
        models.registerModel(BASE, ADAPTER, _refs(dn, 1), CONFIG, "", 0, 0);
        // The same owner may, flagged.
        vm.expectEmit(true, true, true, true, address(models));
        emit ModelRegistry.DuplicateAdapter(first + 1, ADAPTER, first);
        _register(bob);
        assertEq(models.modelByAdapter(ADAPTER), first);
    }

    function test_unknownModel_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelNotFound.selector, 5));
        models.getModel(5);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelNotFound.selector, 5));
        models.deprecate(5);
        assertFalse(models.isActive(5));
    }

    function testFuzz_prices(uint256 pin, uint256 pout) public {
        uint256 id = _register(bob);
        vm.prank(bob);
        models.updatePrice(id, pin, pout);
        assertEq(models.getModel(id).pricePer1kInput, pin);
        assertEq(models.getModel(id).pricePer1kOutput, pout);
    }
}
