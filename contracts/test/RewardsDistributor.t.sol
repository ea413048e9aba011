// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {RewardsDistributor} from "../src/RewardsDistributor.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

contract RewardsDistributorTest is Fixture {
    event Claimed(address indexed account, uint64 indexed epoch, uint256 amount, uint256 cumulativeAmount);

    address[] internal accounts;
    uint256[] internal amounts;
    bytes32[] internal leaves;

    /// @dev Sets the (account, cumulative) table and returns the tree's root and total.
    function _tree(uint256 a, uint256 b, uint256 c) internal returns (bytes32 root, uint256 total) {
        delete accounts;
        delete amounts;
        delete leaves;
        accounts.push(alice);
        accounts.push(bob);
        accounts.push(carol);
        amounts.push(a);
        amounts.push(b);
        amounts.push(c);
        for (uint256 i = 0; i < 3; i++) leaves.push(Merkle.leaf(accounts[i], amounts[i]));
        return (Merkle.root(leaves), a + b + c);
    }

    function _submit(uint64 epoch, uint256 a, uint256 b, uint256 c) internal returns (bytes32 root) {
        uint256 total;
        (root, total) = _tree(a, b, c);
        vm.prank(node);
        rewards.submitRoot(epoch, root, total, abi.encode("da", epoch));
    }

    function _fund(uint256 amount) internal {
        fund(admin, amount, address(rewards));
        vm.prank(admin);
        rewards.fund(amount);
    }

    function _claim(uint256 i) internal returns (uint256) {
        return rewards.claim(accounts[i], amounts[i], Merkle.proof(leaves, i));
    }

    function test_leafMatchesDoubleHash() public view {
        assertEq(rewards.leaf(alice, 5), keccak256(bytes.concat(keccak256(abi.encode(alice, uint256(5))))));
    }

    function test_submit_activatesAfterDelay() public {
        _fund(60);
        bytes32 root = _submit(1, 10, 20, 30);
        RewardsDistributor.RootInfo memory info = rewards.getRoot(1);
        assertEq(info.root, root);
        assertEq(info.totalCumulative, 60);
        assertEq(info.activatedAt, block.timestamp + ACTIVATION_DELAY);
        assertEq(rewards.latestActiveEpoch(), 0);
        vm.expectRevert(RewardsDistributor.NoActiveRoot.selector);
        _claim(0);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        assertEq(rewards.latestActiveEpoch(), 1);
        vm.expectEmit(true, true, false, true, address(rewards));
        emit Claimed(alice, 1, 10, 10);
        assertEq(_claim(0), 10);
        assertEq(token.balanceOf(alice), 10);
        assertEq(rewards.claimed(alice), 10);
    }

    function test_claim_paysCumulativeMinusClaimed() public {
        _fund(1000);
        _submit(1, 10, 20, 30);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        _claim(0);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.NothingToClaim.selector, alice, 10, 10));
        _claim(0);

        _submit(2, 25, 20, 100);
        // Epoch 2 is not active yet: claims still use epoch 1.
        assertEq(rewards.latestActiveEpoch(), 1);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        assertEq(rewards.latestActiveEpoch(), 2);
        assertEq(rewards.claimable(alice, 25, Merkle.proof(leaves, 0)), 15);
        // Anyone may trigger the claim; the OPEN goes to the account.
        vm.prank(carol);
        assertEq(_claim(0), 15);
        assertEq(token.balanceOf(alice), 25);
        assertEq(_claim(2), 100);
        assertEq(rewards.totalClaimed(), 125);
    }

    function test_claim_rejectsWrongAmountOrProof() public {
        _fund(100);
        _submit(1, 10, 20, 30);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        bytes32[] memory p = Merkle.proof(leaves, 0);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.InvalidProof.selector, alice, 11, 1));
        rewards.claim(alice, 11, p);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.InvalidProof.selector, bob, 10, 1));
        rewards.claim(bob, 10, p);
        assertEq(rewards.claimable(alice, 11, p), 0);
    }

    /// Hostile root submitter: a root paying more than was ever paid in is refused; escrow settlements count
    /// as funding (they arrive through `fund`), plain transfers do not.
    function test_rootSubmitterCannotPayBeyondFunding() public {
        _fund(15);
        (bytes32 root, uint256 total) = _tree(10, 20, 30);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.ExceedsFunding.selector, 60, 15));
        vm.prank(node);
        rewards.submitRoot(1, root, total, "");
        // A donation by plain transfer does not raise the ceiling.
        vm.prank(admin);
        token.mint(address(rewards), 1_000);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.ExceedsFunding.selector, 60, 15));
        vm.prank(node);
        rewards.submitRoot(1, root, total, "");
        // Usage settled from the escrow does.
        fund(alice, 45, address(escrow));
        vm.startPrank(alice);
        escrow.deposit(45);
        escrow.approveSpend(bytes32(0), 45, uint64(block.timestamp + 1 days));
        vm.stopPrank();
        address[] memory a = new address[](1);
        uint256[] memory m = new uint256[](1);
        (a[0], m[0]) = (alice, 45);
        vm.prank(node);
        escrow.settle(1, a, m, bytes32(0));
        assertEq(rewards.totalFunded(), 60);
        vm.prank(node);
        rewards.submitRoot(1, root, total, "");
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        assertEq(_claim(1), 20);
        // Even a lying total (root total below its leaves) never pays beyond it.
    }

    function test_activationDelay_hasAFloor() public {
        assertEq(rewards.minActivationDelay(), MIN_ACTIVATION_DELAY);
        vm.expectRevert(
            abi.encodeWithSelector(RewardsDistributor.DelayTooShort.selector, 0, MIN_ACTIVATION_DELAY)
        );
        vm.prank(admin);
        rewards.setActivationDelay(0);
        vm.prank(admin);
        rewards.setActivationDelay(MIN_ACTIVATION_DELAY);
        assertEq(rewards.activationDelay(), MIN_ACTIVATION_DELAY);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.DelayTooShort.selector, 1, 60));
        new RewardsDistributor(admin, token, 1 hours, 1);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.DelayTooShort.selector, 60, 120));
        new RewardsDistributor(admin, token, 60, 120);
    }

    /// Claim cost stays bounded however many roots are submitted: at most MAX_PENDING_ROOTS wait at once.
    function test_pendingRootsBounded() public {
        _fund(1_000);
        uint256 max = rewards.MAX_PENDING_ROOTS();
        for (uint64 e = 1; e <= max; e++) _submit(e, e, 0, 0);
        assertEq(rewards.pendingRoots().length, max);
        (bytes32 root, uint256 total) = _tree(1, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.TooManyPendingRoots.selector, max, max));
        vm.prank(node);
        rewards.submitRoot(uint64(max + 1), root, total, "");
        // Once they activate, the queue drains on the next submission or claim.
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        assertEq(rewards.latestActiveEpoch(), max);
        _submit(uint64(max + 1), 50, 0, 0);
        assertEq(rewards.pendingRoots().length, 1);
        // Disabling pending roots frees slots too (and cannot grow any list).
        vm.prank(guardian);
        rewards.disableRoot(uint64(max + 1));
        assertEq(rewards.pendingRoots().length, 0);
    }

    function test_epochJumpBounded() public {
        _fund(10);
        (bytes32 root,) = _tree(1, 1, 1);
        uint64 jump = rewards.MAX_EPOCH_JUMP();
        vm.expectRevert(
            abi.encodeWithSelector(RewardsDistributor.EpochJumpTooLarge.selector, type(uint64).max, 0, jump)
        );
        vm.prank(node);
        rewards.submitRoot(type(uint64).max, root, 3, "");
        vm.prank(node);
        rewards.submitRoot(jump, root, 3, "");
        assertEq(rewards.lastSubmittedEpoch(), jump);
    }

    /// A penalty root (an account below what it already claimed) does not block other claimants when its total
    /// counts that account at its claimed amount.
    function test_penaltyRoot_doesNotBlockOthers() public {
        _fund(100);
        _submit(1, 30, 0, 0);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        assertEq(_claim(0), 30);
        // Epoch 2 cuts alice to 10 (penalty) and gives bob 20, carol 40: total = max(10, 30) + 20 + 40 = 90.
        (bytes32 root,) = _tree(10, 20, 40);
        vm.prank(node);
        rewards.submitRoot(2, root, 90, "");
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.NothingToClaim.selector, alice, 10, 30));
        _claim(0);
        assertEq(_claim(1), 20);
        assertEq(_claim(2), 40);
        assertEq(rewards.totalClaimed(), 90);
    }

    function test_guardianOnlyDisables() public {
        _fund(100);
        _submit(1, 10, 20, 30);
        vm.prank(guardian);
        rewards.disableRoot(1);
        vm.expectRevert();
        vm.prank(guardian);
        rewards.setActivationDelay(2 hours);
        vm.expectRevert();
        vm.prank(guardian);
        rewards.submitRoot(2, bytes32(uint256(1)), 1, "");
    }

    function test_claim_boundedByRootTotal() public {
        // A bad root whose declared total is below its leaves cannot pay more than the declared total.
        _fund(100);
        (bytes32 root,) = _tree(10, 20, 30);
        vm.prank(node);
        rewards.submitRoot(1, root, 25, "");
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        _claim(0);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.ExceedsRootTotal.selector, 1, 25, 30));
        _claim(1);
    }

    function test_disableRoot_beforeActivationOnly() public {
        _fund(300);
        _submit(1, 10, 20, 30);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        _submit(2, 99, 20, 30);
        vm.prank(admin);
        rewards.disableRoot(2);
        assertTrue(rewards.getRoot(2).disabled);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        assertEq(rewards.latestActiveEpoch(), 1);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.RootAlreadyDisabled.selector, 2));
        vm.prank(node);
        rewards.disableRoot(2);
        uint64 activatedAt = rewards.getRoot(1).activatedAt;
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.RootAlreadyActive.selector, 1, activatedAt));
        vm.prank(node);
        rewards.disableRoot(1);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.NotAuthorized.selector, alice));
        vm.prank(alice);
        rewards.disableRoot(1);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.RootNotFound.selector, 9));
        vm.prank(admin);
        rewards.disableRoot(9);
    }

    function test_submit_epochRules() public {
        _fund(100);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, rewards.ROOT_SUBMITTER_ROLE()
            )
        );
        vm.prank(alice);
        rewards.submitRoot(1, bytes32(uint256(1)), 1, "");
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.EpochNotIncreasing.selector, 0, 0));
        vm.prank(node);
        rewards.submitRoot(0, bytes32(uint256(1)), 1, "");
        vm.expectRevert(RewardsDistributor.EmptyRoot.selector);
        vm.prank(node);
        rewards.submitRoot(1, bytes32(0), 1, "");

        _submit(3, 1, 2, 3);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.EpochNotIncreasing.selector, 3, 3));
        _submit(3, 1, 2, 3);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.EpochNotIncreasing.selector, 2, 3));
        _submit(2, 1, 2, 3);
        // A disabled latest epoch can be submitted again (the fix for a bad root).
        vm.prank(node);
        rewards.disableRoot(3);
        bytes32 fixedRoot = _submit(3, 4, 5, 6);
        assertEq(rewards.getRoot(3).root, fixedRoot);
        assertFalse(rewards.getRoot(3).disabled);
        assertEq(rewards.epochCount(), 1);
        assertEq(rewards.lastSubmittedEpoch(), 3);
    }

    function test_submit_totalMustCoverClaims() public {
        _fund(100);
        _submit(1, 10, 20, 30);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        _claim(2);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.TotalBelowClaimed.selector, 29, 30));
        vm.prank(node);
        rewards.submitRoot(2, bytes32(uint256(1)), 29, "");
    }

    function testFuzz_claimNeverExceedsAllotment(uint64 a1, uint64 extra, uint64 b) public {
        _fund(type(uint128).max);
        _submit(1, a1, b, 1);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        uint256 paid;
        if (a1 > 0) paid += _claim(0);
        uint256 a2 = uint256(a1) + extra;
        _submit(2, a2, b, 1);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        if (extra > 0) paid += _claim(0);
        assertEq(paid, a2);
        assertEq(token.balanceOf(alice), a2);
        assertLe(rewards.totalClaimed(), rewards.getRoot(2).totalCumulative, "claimed <= total");
    }

    function testFuzz_treeOfManyLeaves(uint8 n, uint256 seed) public {
        uint256 count = bound(n, 1, 40);
        bytes32[] memory ls = new bytes32[](count);
        address[] memory who = new address[](count);
        uint256[] memory amt = new uint256[](count);
        uint256 total;
        for (uint256 i = 0; i < count; i++) {
            who[i] = address(uint160(uint256(keccak256(abi.encode(seed, i)))) | 1);
            amt[i] = uint256(keccak256(abi.encode(seed, i, "a"))) % 1e24 + 1;
            ls[i] = Merkle.leaf(who[i], amt[i]);
            total += amt[i];
        }
        _fund(total);
        vm.prank(node);
        rewards.submitRoot(1, Merkle.root(ls), total, "");
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        uint256 k = seed % count;
        assertEq(rewards.claim(who[k], amt[k], Merkle.proof(ls, k)), amt[k]);
    }
}
