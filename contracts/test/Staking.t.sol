// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Staking} from "../src/Staking.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

contract StakingTest is Fixture {
    function _stake(address who, uint256 amount) internal {
        fund(who, amount, address(staking));
        vm.prank(who);
        staking.stake(amount);
    }

    function test_stake() public {
        _stake(alice, 10 ether);
        assertEq(staking.stakeOf(alice), 10 ether);
        assertEq(staking.totalStaked(), 10 ether);
        assertEq(token.balanceOf(address(staking)), 10 ether);
        vm.expectRevert(Staking.ZeroAmount.selector);
        vm.prank(alice);
        staking.stake(0);
    }

    function test_unbond_thenWithdrawAfterDelay() public {
        _stake(alice, 10 ether);
        vm.prank(alice);
        uint64 releaseAt = staking.unbond(4 ether);
        assertEq(releaseAt, block.timestamp + UNBONDING_DELAY);
        assertEq(staking.stakeOf(alice), 6 ether);
        assertEq(staking.unbondingTotalOf(alice), 4 ether);
        assertEq(staking.withdrawableOf(alice), 0);

        vm.warp(releaseAt - 1);
        vm.expectRevert(abi.encodeWithSelector(Staking.NothingToWithdraw.selector, alice));
        vm.prank(alice);
        staking.withdraw();

        vm.warp(releaseAt);
        assertEq(staking.withdrawableOf(alice), 4 ether);
        vm.prank(alice);
        assertEq(staking.withdraw(), 4 ether);
        assertEq(token.balanceOf(alice), 4 ether);
        assertEq(staking.unbondingOf(alice).length, 0);
        assertEq(staking.totalUnbonding(), 0);
    }

    function test_withdraw_onlyReleasedEntries() public {
        _stake(alice, 10 ether);
        vm.prank(alice);
        staking.unbond(1 ether);
        vm.warp(block.timestamp + 3 days);
        vm.prank(alice);
        staking.unbond(2 ether);
        vm.warp(block.timestamp + 4 days); // first released, second not
        vm.prank(alice);
        assertEq(staking.withdraw(), 1 ether);
        Staking.UnbondingEntry[] memory left = staking.unbondingOf(alice);
        assertEq(left.length, 1);
        assertEq(left[0].amount, 2 ether);
        vm.warp(block.timestamp + 3 days);
        vm.prank(alice);
        assertEq(staking.withdraw(), 2 ether);
    }

    function test_unbond_limits() public {
        _stake(alice, 100);
        vm.expectRevert(abi.encodeWithSelector(Staking.InsufficientStake.selector, alice, 100, 101));
        vm.prank(alice);
        staking.unbond(101);
        for (uint256 i = 0; i < 32; i++) {
            vm.prank(alice);
            staking.unbond(1);
        }
        vm.expectRevert(abi.encodeWithSelector(Staking.TooManyUnbondingEntries.selector, alice, 32));
        vm.prank(alice);
        staking.unbond(1);
    }

    function test_slash_stakeThenUnbondingNewestFirst() public {
        _stake(alice, 10 ether);
        vm.startPrank(alice);
        staking.unbond(3 ether); // older
        staking.unbond(2 ether); // newer
        vm.stopPrank();
        // stake 5, unbonding [3, 2]; slash 6: 5 from stake, 1 from the newest entry.
        vm.prank(node);
        staking.slash(alice, 6 ether, keccak256("double-vote"));
        assertEq(staking.stakeOf(alice), 0);
        Staking.UnbondingEntry[] memory e = staking.unbondingOf(alice);
        assertEq(e.length, 2);
        assertEq(e[0].amount, 3 ether);
        assertEq(e[1].amount, 1 ether);
        assertEq(token.balanceOf(treasury), 6 ether);
        // Slash into an entry that is already released but not withdrawn: still slashable.
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(node);
        staking.slash(alice, 2 ether, bytes32(0));
        e = staking.unbondingOf(alice);
        assertEq(e.length, 1);
        assertEq(e[0].amount, 2 ether);
        vm.prank(alice);
        assertEq(staking.withdraw(), 2 ether);
        assertEq(token.balanceOf(treasury), 8 ether);
    }

    function test_slash_rules() public {
        _stake(alice, 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, bob, staking.SLASHER_ROLE())
        );
        vm.prank(bob);
        staking.slash(alice, 1, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(Staking.SlashExceedsStake.selector, alice, 2 ether, 1 ether));
        vm.prank(node);
        staking.slash(alice, 2 ether, bytes32(0));
        vm.expectRevert(Staking.ZeroAmount.selector);
        vm.prank(node);
        staking.slash(alice, 0, bytes32(0));
    }

    function test_admin() public {
        vm.prank(admin);
        staking.setTreasury(carol);
        assertEq(staking.treasury(), carol);
        vm.prank(admin);
        staking.setUnbondingDelay(1 days);
        _stake(alice, 1);
        vm.prank(alice);
        assertEq(staking.unbond(1), block.timestamp + 1 days);
        vm.expectRevert(abi.encodeWithSelector(Staking.DelayTooLong.selector, 91 days, 90 days));
        vm.prank(admin);
        staking.setUnbondingDelay(91 days);
    }

    function testFuzz_unbondRespectsDelay(uint96 amount, uint32 wait) public {
        vm.assume(amount > 0);
        _stake(alice, amount);
        vm.prank(alice);
        uint64 releaseAt = staking.unbond(amount);
        vm.warp(block.timestamp + wait);
        if (block.timestamp < releaseAt) {
            vm.expectRevert(abi.encodeWithSelector(Staking.NothingToWithdraw.selector, alice));
            vm.prank(alice);
            staking.withdraw();
        } else {
            vm.prank(alice);
            assertEq(staking.withdraw(), amount);
        }
    }

    function testFuzz_slashConservesTokens(uint96 stakeAmt, uint96 unbondAmt, uint96 slashAmt) public {
        uint256 s = bound(stakeAmt, 1, type(uint96).max);
        uint256 u = bound(unbondAmt, 0, s);
        uint256 x = bound(slashAmt, 1, s);
        _stake(alice, s);
        if (u > 0) {
            vm.prank(alice);
            staking.unbond(u);
        }
        vm.prank(node);
        staking.slash(alice, x, bytes32(0));
        assertEq(staking.slashableOf(alice), s - x);
        assertEq(token.balanceOf(treasury), x);
        assertEq(token.balanceOf(address(staking)), staking.totalStaked() + staking.totalUnbonding());
    }
}
