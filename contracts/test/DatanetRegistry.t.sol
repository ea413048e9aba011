// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {DatanetRegistry} from "../src/DatanetRegistry.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

contract DatanetRegistryTest is Fixture {
    event DatanetCreated(
        uint256 indexed datanetId,
        address indexed owner,
        DatanetRegistry.AccessPolicy accessPolicy,
        uint256 accessPrice,
        uint32 requiredApprovals,
        string metadataURI
    );
    event VersionCommitted(
        uint256 indexed datanetId,
        uint64 indexed version,
        bytes32 merkleRoot,
        uint64 rowCount,
        bytes32 contentHash,
        bytes daCommitment
    );
    event AccessGranted(uint256 indexed datanetId, address indexed account, address indexed grantedBy);

    DatanetRegistry.AccessPolicy constant OPEN = DatanetRegistry.AccessPolicy.Open;
    DatanetRegistry.AccessPolicy constant APPROVAL = DatanetRegistry.AccessPolicy.Approval;
    DatanetRegistry.AccessPolicy constant PAID = DatanetRegistry.AccessPolicy.Paid;

    function _create(address owner, DatanetRegistry.AccessPolicy p, uint256 price) internal returns (uint256) {
        vm.prank(owner);
        return datanets.createDatanet("ipfs://meta", p, price, 2);
    }

    function test_create_storesRecordAndEmits() public {
        vm.expectEmit(true, true, false, true, address(datanets));
        emit DatanetCreated(1, alice, APPROVAL, 0, 2, "ipfs://meta");
        uint256 id = _create(alice, APPROVAL, 0);
        assertEq(id, 1);
        assertEq(datanets.datanetCount(), 1);
        DatanetRegistry.Datanet memory d = datanets.getDatanet(id);
        assertEq(d.owner, alice);
        assertTrue(d.accessPolicy == APPROVAL);
        assertEq(d.requiredApprovals, 2);
        assertEq(d.latestVersion, 0);
        assertEq(d.createdAt, block.timestamp);
        assertEq(d.metadataURI, "ipfs://meta");
        assertEq(_create(bob, OPEN, 0), 2);
    }

    function test_create_priceRules() public {
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidAccessPrice.selector, PAID, 0));
        _create(alice, PAID, 0);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidAccessPrice.selector, OPEN, 5));
        _create(alice, OPEN, 5);
        _create(alice, PAID, 5);
    }

    function test_createFor_onlyOperator() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, datanets.OPERATOR_ROLE()
            )
        );
        vm.prank(alice);
        datanets.createDatanetFor(bob, "u", OPEN, 0, 0);

        vm.prank(node);
        uint256 id = datanets.createDatanetFor(bob, "u", OPEN, 0, 0);
        assertEq(datanets.getDatanet(id).owner, bob);

        vm.expectRevert(DatanetRegistry.ZeroAddress.selector);
        vm.prank(node);
        datanets.createDatanetFor(address(0), "u", OPEN, 0, 0);
    }

    function test_unknownDatanet_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.DatanetNotFound.selector, 9));
        datanets.getDatanet(9);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.DatanetNotFound.selector, 9));
        datanets.commitVersion(9, bytes32(uint256(1)), 1, "", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.DatanetNotFound.selector, 9));
        datanets.hasAccess(9, alice);
    }

    function test_transferOwnership() public {
        uint256 id = _create(alice, APPROVAL, 0);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, bob));
        vm.prank(bob);
        datanets.transferDatanetOwnership(id, bob);

        vm.prank(alice);
        datanets.transferDatanetOwnership(id, bob);
        assertEq(datanets.getDatanet(id).owner, bob);
        // The old owner lost its rights; the operator keeps relaying but cannot take the datanet.
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, alice));
        vm.prank(alice);
        datanets.addValidator(id, carol);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, node));
        vm.prank(node);
        datanets.transferDatanetOwnership(id, node);
        vm.prank(bob);
        datanets.transferDatanetOwnership(id, carol);
        assertEq(datanets.getDatanet(id).owner, carol);
        vm.expectRevert(DatanetRegistry.ZeroAddress.selector);
        vm.prank(carol);
        datanets.transferDatanetOwnership(id, address(0));
    }

    function test_validators() public {
        uint256 id = _create(alice, APPROVAL, 0);
        stakeFor(bob, 1 ether);
        stakeFor(carol, 1 ether);
        vm.prank(alice);
        datanets.addValidator(id, bob);
        vm.prank(node);
        datanets.addValidator(id, carol);
        assertTrue(datanets.isValidator(id, bob));
        assertTrue(datanets.isValidator(id, carol));
        assertEq(datanets.validatorCount(id), 2);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.ValidatorAlreadyAdded.selector, id, bob));
        vm.prank(alice);
        datanets.addValidator(id, bob);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, bob));
        vm.prank(bob);
        datanets.removeValidator(id, carol);
        vm.prank(alice);
        datanets.removeValidator(id, bob);
        assertFalse(datanets.isValidator(id, bob));
        assertEq(datanets.validatorCount(id), 1);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.ValidatorNotFound.selector, id, bob));
        vm.prank(alice);
        datanets.removeValidator(id, bob);
    }

    function test_commitVersion_incrementsAndStores() public {
        uint256 id = _create(alice, OPEN, 0);
        bytes32 root1 = keccak256("rows-1");
        vm.expectEmit(true, true, false, true, address(datanets));
        emit VersionCommitted(id, 1, root1, 10, keccak256("snap-1"), hex"beef");
        vm.prank(alice);
        uint64 v1 = datanets.commitVersion(id, root1, 10, hex"beef", keccak256("snap-1"));
        vm.warp(block.timestamp + 100);
        vm.prank(node);
        uint64 v2 = datanets.commitVersion(id, keccak256("rows-2"), 25, hex"cafe01", keccak256("snap-2"));
        assertEq(v1, 1);
        assertEq(v2, 2);
        assertEq(datanets.latestVersion(id), 2);
        DatanetRegistry.Version memory v = datanets.getVersion(id, 1);
        assertEq(v.merkleRoot, root1);
        assertEq(v.rowCount, 10);
        assertEq(v.contentHash, keccak256("snap-1"));
        assertEq(v.daCommitment, hex"beef");
        assertEq(datanets.getVersion(id, 2).committedAt, block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.VersionNotFound.selector, id, 3));
        datanets.getVersion(id, 3);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.VersionNotFound.selector, id, 0));
        datanets.getVersion(id, 0);
    }

    function test_commitVersion_rejectsEmptyAndStrangers() public {
        uint256 id = _create(alice, OPEN, 0);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.EmptyVersion.selector, id));
        datanets.commitVersion(id, bytes32(0), 1, "", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.EmptyVersion.selector, id));
        datanets.commitVersion(id, bytes32(uint256(1)), 0, "", bytes32(0));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, bob));
        vm.prank(bob);
        datanets.commitVersion(id, bytes32(uint256(1)), 1, "", bytes32(0));
    }

    function test_access_openApprovalOwner() public {
        uint256 open = _create(alice, OPEN, 0);
        uint256 appr = _create(alice, APPROVAL, 0);
        assertTrue(datanets.hasAccess(open, carol));
        assertFalse(datanets.hasAccess(appr, carol));
        assertTrue(datanets.hasAccess(appr, alice));

        vm.expectEmit(true, true, true, false, address(datanets));
        emit AccessGranted(appr, carol, node);
        vm.prank(node);
        datanets.grantAccess(appr, carol);
        assertTrue(datanets.hasAccess(appr, carol));

        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, appr, carol));
        vm.prank(carol);
        datanets.revokeAccess(appr, carol);
        vm.prank(alice);
        datanets.revokeAccess(appr, carol);
        assertFalse(datanets.hasAccess(appr, carol));
    }

    function test_purchaseAccess_paysRewardsPool() public {
        uint256 id = _create(alice, PAID, 3 ether);
        vm.prank(alice);
        datanets.commitVersion(id, bytes32(uint256(1)), 4, "", bytes32(0));
        assertEq(datanets.ownerShareOf(id), 0); // default: all to the contributors
        vm.prank(alice);
        datanets.setOwnerShare(id, 2_000);
        fund(carol, 3 ether, address(datanets));
        assertFalse(datanets.hasAccess(id, carol));
        vm.expectEmit(true, true, false, true, address(datanets));
        emit DatanetRegistry.AccessRevenue(id, 1, 3 ether, 0.6 ether, 2.4 ether); // owner share 20 %
        vm.prank(carol);
        datanets.purchaseAccess(id, 3 ether);
        assertTrue(datanets.hasAccess(id, carol));
        assertTrue(datanets.hasPurchased(id, carol));
        // Not the owner's wallet: the rewards pool, counted as funding of future roots.
        assertEq(token.balanceOf(alice), 0);
        assertEq(token.balanceOf(address(rewards)), 3 ether);
        assertEq(rewards.totalFunded(), 3 ether);
        assertEq(token.balanceOf(carol), 0);
        assertEq(token.balanceOf(address(datanets)), 0);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.AccessAlreadyHeld.selector, id, carol));
        vm.prank(carol);
        datanets.purchaseAccess(id, 3 ether);
    }

    function test_purchaseAccess_onlyPaid() public {
        uint256 id = _create(alice, APPROVAL, 0);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.AccessNotForSale.selector, id, APPROVAL));
        vm.prank(carol);
        datanets.purchaseAccess(id, 1 ether);
    }

    /// Hostile owner front-runs a purchase with a price rise: the buyer's maxPrice refuses it, nothing moves.
    function test_purchaseAccess_frontRunPriceRaiseRefused() public {
        uint256 id = _create(alice, PAID, 1 ether);
        fund(carol, 100 ether, address(datanets)); // a generous approval
        vm.prank(alice);
        datanets.setAccessPolicy(id, PAID, 100 ether);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.PriceAboveMax.selector, id, 100 ether, 1 ether));
        vm.prank(carol);
        datanets.purchaseAccess(id, 1 ether);
        assertEq(token.balanceOf(carol), 100 ether);
        assertFalse(datanets.hasAccess(id, carol));
    }

    function test_purchasedAccessCannotBeRevoked() public {
        uint256 id = _create(alice, PAID, 1 ether);
        fund(carol, 1 ether, address(datanets));
        vm.prank(carol);
        datanets.purchaseAccess(id, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.PurchasedAccessIrrevocable.selector, id, carol));
        vm.prank(alice);
        datanets.revokeAccess(id, carol);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.PurchasedAccessIrrevocable.selector, id, carol));
        vm.prank(node);
        datanets.revokeAccess(id, carol);
        assertTrue(datanets.hasAccess(id, carol));
    }

    function test_ownerShare_boundedByGovernance() public {
        uint256 id = _create(alice, PAID, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.OwnerShareTooHigh.selector, id, 10_000, 5_000));
        vm.prank(alice);
        datanets.setOwnerShare(id, 10_000);
        vm.prank(alice);
        datanets.setOwnerShare(id, 5_000);
        assertEq(datanets.ownerShareOf(id), 5_000);
        // Governance lowers the maximum: existing shares are capped by it at once.
        vm.prank(admin);
        datanets.setOwnerShareBounds(1_000, 3_000);
        assertEq(datanets.ownerShareOf(id), 3_000);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidOwnerShareBounds.selector, 4_000, 3_000));
        vm.prank(admin);
        datanets.setOwnerShareBounds(4_000, 3_000);
        vm.prank(alice);
        vm.expectRevert();
        datanets.setOwnerShareBounds(0, 10_000);
    }

    function test_validatorsMustBeStaked() public {
        uint256 id = _create(alice, APPROVAL, 0);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.ValidatorNotStaked.selector, id, bob, 0, 1));
        vm.prank(alice);
        datanets.addValidator(id, bob);
        vm.prank(admin);
        datanets.setMinValidatorStake(5 ether);
        stakeFor(bob, 4 ether);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.ValidatorNotStaked.selector, id, bob, 4 ether, 5 ether));
        vm.prank(node);
        datanets.addValidator(id, bob);
        stakeFor(bob, 1 ether);
        vm.prank(node);
        datanets.addValidator(id, bob);
        assertTrue(datanets.isActiveValidator(id, bob));
        // Unbonding below the minimum makes the validator inactive.
        vm.prank(bob);
        staking.unbond(2 ether);
        assertTrue(datanets.isValidator(id, bob));
        assertFalse(datanets.isActiveValidator(id, bob));
    }

    function test_policyUpdates() public {
        uint256 id = _create(alice, OPEN, 0);
        vm.startPrank(alice);
        datanets.setAccessPolicy(id, PAID, 9);
        datanets.setValidationPolicy(id, 0);
        datanets.setMetadataURI(id, "ipfs://v2");
        vm.stopPrank();
        DatanetRegistry.Datanet memory d = datanets.getDatanet(id);
        assertTrue(d.accessPolicy == PAID);
        assertEq(d.accessPrice, 9);
        assertEq(d.requiredApprovals, 0);
        assertEq(d.metadataURI, "ipfs://v2");
        assertFalse(datanets.hasAccess(id, carol));
    }

    function testFuzz_versionsAreSequential(uint8 n, bytes32 seed) public {
        uint256 id = _create(alice, OPEN, 0);
        uint256 count = bound(n, 1, 20);
        for (uint256 i = 1; i <= count; i++) {
            bytes32 root = keccak256(abi.encode(seed, i));
            vm.prank(alice);
            assertEq(datanets.commitVersion(id, root, uint64(i), abi.encode(i), root), i);
            assertEq(datanets.getVersion(id, uint64(i)).merkleRoot, root);
        }
        assertEq(datanets.latestVersion(id), count);
    }

    function testFuzz_onlyOwnerOrOperatorMutates(address caller) public {
        vm.assume(caller != alice && caller != node);
        uint256 id = _create(alice, APPROVAL, 0);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, caller));
        vm.prank(caller);
        datanets.grantAccess(id, caller);
    }
}
