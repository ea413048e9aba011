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

    bytes32 internal constant EVIDENCE = keccak256("decision-record");
    bytes internal constant DA = hex"da01";

    function _propose(address who, uint256 amount) internal returns (uint256 id) {
        vm.prank(node);
        id = staking.proposeSlash(who, amount, EVIDENCE, DA);
    }

    /// Propose, wait out the challenge window, execute (anyone may).
    function _slash(address who, uint256 amount) internal returns (uint256 taken) {
        uint256 id = _propose(who, amount);
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        vm.prank(carol);
        taken = staking.executeSlash(id);
    }

    function test_slash_stakeThenUnbondingNewestFirst() public {
        _stake(alice, 10 ether);
        vm.startPrank(alice);
        staking.unbond(3 ether); // older
        staking.unbond(3 ether); // newer
        vm.stopPrank();
        // stake 4, unbonding [3, 3]; slash 5 (the 50 % cap): 4 from stake, 1 from the newest entry.
        assertEq(_slash(alice, 5 ether), 5 ether);
        assertEq(staking.stakeOf(alice), 0);
        Staking.UnbondingEntry[] memory e = staking.unbondingOf(alice);
        assertEq(e.length, 2);
        assertEq(e[0].amount, 3 ether);
        assertEq(e[1].amount, 2 ether);
        assertEq(token.balanceOf(treasury), 5 ether);
        // Slash into an entry that is already released but not withdrawn: still slashable.
        vm.warp(block.timestamp + UNBONDING_DELAY);
        assertEq(_slash(alice, 2 ether), 2 ether);
        e = staking.unbondingOf(alice);
        assertEq(e.length, 1);
        assertEq(e[0].amount, 3 ether);
        vm.prank(alice);
        assertEq(staking.withdraw(), 3 ether);
        assertEq(token.balanceOf(treasury), 7 ether);
    }

    function test_slash_badInputRefused() public {
        _stake(alice, 10 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, bob, staking.SLASHER_ROLE())
        );
        vm.prank(bob);
        staking.proposeSlash(alice, 1, EVIDENCE, DA);
        vm.startPrank(node);
        vm.expectRevert(abi.encodeWithSelector(Staking.MissingEvidence.selector, alice));
        staking.proposeSlash(alice, 1 ether, bytes32(0), DA);
        vm.expectRevert(abi.encodeWithSelector(Staking.MissingEvidence.selector, alice));
        staking.proposeSlash(alice, 1 ether, EVIDENCE, "");
        vm.expectRevert(abi.encodeWithSelector(Staking.SlashAboveCap.selector, alice, 6 ether, 5 ether));
        staking.proposeSlash(alice, 6 ether, EVIDENCE, DA);
        vm.expectRevert(Staking.ZeroAmount.selector);
        staking.proposeSlash(alice, 0, EVIDENCE, DA);
        uint256 id = staking.proposeSlash(alice, 1 ether, EVIDENCE, DA);
        vm.expectRevert(abi.encodeWithSelector(Staking.SlashAlreadyPending.selector, alice, id));
        staking.proposeSlash(alice, 1 ether, EVIDENCE, DA);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Staking.SlashNotFound.selector, 99));
        staking.executeSlash(99);
        assertEq(token.balanceOf(treasury), 0);
        assertEq(staking.slashableOf(alice), 10 ether);
    }

    /// Hostile slasher: there is no immediate slash; execution before the window ends is refused.
    function test_slasherCannotSkipTheWindow() public {
        _stake(alice, 10 ether);
        uint256 id = _propose(alice, 5 ether);
        Staking.SlashProposal memory p = staking.getSlash(id);
        assertEq(p.executableAt, block.timestamp + CHALLENGE_WINDOW);
        assertEq(p.evidenceHash, EVIDENCE);
        assertEq(p.daCommitment, DA);
        vm.warp(p.executableAt - 1);
        vm.expectRevert(abi.encodeWithSelector(Staking.ChallengeWindowOpen.selector, id, p.executableAt, p.executableAt - 1));
        vm.prank(node);
        staking.executeSlash(id);
        assertEq(staking.stakeOf(alice), 10 ether);
    }

    function test_governanceVetoesDuringWindow() public {
        _stake(alice, 10 ether);
        uint256 id = _propose(alice, 5 ether);
        vm.expectRevert(abi.encodeWithSelector(Staking.NotAuthorized.selector, node));
        vm.prank(node);
        staking.vetoSlash(id);
        vm.prank(admin); // the Timelock, i.e. a passed proposal
        staking.vetoSlash(id);
        assertEq(uint8(staking.getSlash(id).status), uint8(Staking.SlashStatus.Vetoed));
        assertEq(staking.pendingSlashOf(alice), 0);
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        vm.expectRevert(abi.encodeWithSelector(Staking.SlashNotPending.selector, id, Staking.SlashStatus.Vetoed));
        staking.executeSlash(id);
        assertEq(staking.stakeOf(alice), 10 ether);
        // The guardian may veto too, but only inside the window.
        uint256 id2 = _propose(alice, 1 ether);
        vm.prank(guardian);
        staking.vetoSlash(id2);
        uint256 id3 = _propose(alice, 1 ether);
        uint64 at = staking.getSlash(id3).executableAt;
        vm.warp(at);
        vm.expectRevert(abi.encodeWithSelector(Staking.ChallengeWindowClosed.selector, id3, at));
        vm.prank(admin);
        staking.vetoSlash(id3);
        staking.executeSlash(id3);
        assertEq(token.balanceOf(treasury), 1 ether);
    }

    /// A validator cannot withdraw ahead of a proposed slash: withdrawals freeze until it resolves, and
    /// released-but-unwithdrawn stake is still taken.
    function test_validatorWithdrawingAheadOfSlash() public {
        _stake(alice, 10 ether);
        vm.prank(alice);
        staking.unbond(10 ether);
        vm.warp(block.timestamp + UNBONDING_DELAY); // released
        uint256 id = _propose(alice, 5 ether);
        vm.expectRevert(abi.encodeWithSelector(Staking.SlashPending.selector, alice, id));
        vm.prank(alice);
        staking.withdraw();
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        assertEq(staking.executeSlash(id), 5 ether);
        vm.prank(alice);
        assertEq(staking.withdraw(), 5 ether);
        assertEq(token.balanceOf(treasury), 5 ether);
    }

    function test_slashParameters_governed() public {
        vm.expectRevert(abi.encodeWithSelector(Staking.ChallengeWindowOutOfRange.selector, 59, 60, 30 days));
        vm.prank(admin);
        staking.setChallengeWindow(59);
        vm.expectRevert(abi.encodeWithSelector(Staking.SlashBpsOutOfRange.selector, 0, 10_000));
        vm.prank(admin);
        staking.setMaxSlashBps(0);
        vm.expectRevert();
        vm.prank(node);
        staking.setMaxSlashBps(10_000);
        vm.prank(admin);
        staking.setMaxSlashBps(1_000);
        _stake(alice, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(Staking.SlashAboveCap.selector, alice, 2 ether, 1 ether));
        vm.prank(node);
        staking.proposeSlash(alice, 2 ether, EVIDENCE, DA);
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
        uint256 x = bound(slashAmt, 1, s * MAX_SLASH_BPS / 10_000 + 1);
        _stake(alice, s);
        if (u > 0) {
            vm.prank(alice);
            staking.unbond(u);
        }
        if (x > s * MAX_SLASH_BPS / 10_000) {
            vm.expectRevert(abi.encodeWithSelector(Staking.SlashAboveCap.selector, alice, x, s * MAX_SLASH_BPS / 10_000));
            _propose(alice, x);
            return;
        }
        _slash(alice, x);
        assertEq(staking.slashableOf(alice), s - x);
        assertEq(token.balanceOf(treasury), x);
        assertEq(token.balanceOf(address(staking)), staking.totalStaked() + staking.totalUnbonding());
    }
}
