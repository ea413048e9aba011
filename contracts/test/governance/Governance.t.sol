// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {GovernedFixture} from "../utils/GovernedFixture.sol";
import {OpenGovernor} from "../../src/OpenGovernor.sol";
import {RewardsDistributor} from "../../src/RewardsDistributor.sol";
import {InferenceEscrow} from "../../src/InferenceEscrow.sol";
import {Staking} from "../../src/Staking.sol";
import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// Separated powers and on-chain governance: no key left from the deployment holds an admin role; each node role
/// can do its one job and nothing else; parameters change only through propose → vote → queue → execute.
contract GovernanceTest is GovernedFixture {
    function _admins() internal view returns (IAccessControl[6] memory) {
        return [
            IAccessControl(address(datanets)),
            IAccessControl(address(models)),
            IAccessControl(address(rewards)),
            IAccessControl(address(escrow)),
            IAccessControl(address(staking)),
            IAccessControl(address(timelock))
        ];
    }

    function test_noSingleKeyIsAdmin() public view {
        IAccessControl[6] memory all = _admins();
        address[7] memory keys = [deployer, operator, settler, rootSubmitter, slasher, guardian, voter];
        for (uint256 i = 0; i < all.length; i++) {
            assertTrue(all[i].hasRole(bytes32(0), address(timelock)), "timelock is admin");
            for (uint256 k = 0; k < keys.length; k++) assertFalse(all[i].hasRole(bytes32(0), keys[k]), "no key is admin");
        }
        assertEq(token.owner(), address(timelock));
        assertTrue(timelock.hasRole(timelock.PROPOSER_ROLE(), address(governor)));
        assertFalse(timelock.hasRole(timelock.PROPOSER_ROLE(), deployer));
        assertTrue(timelock.hasRole(timelock.EXECUTOR_ROLE(), address(0)));
        assertEq(timelock.getMinDelay(), TIMELOCK_DELAY);
        assertEq(address(governor.timelock()), address(timelock));
        assertEq(governor.CLOCK_MODE(), "mode=timestamp");
    }

    /// Each role key tries every parameter and role change: all refused.
    function test_hostileRoleHolders_cannotChangeRules() public {
        address[4] memory keys = [operator, settler, rootSubmitter, slasher];
        bytes32 settlerRole = escrow.SETTLER_ROLE();
        for (uint256 k = 0; k < keys.length; k++) {
            vm.startPrank(keys[k]);
            vm.expectRevert();
            escrow.setSink(address(staking));
            vm.expectRevert();
            escrow.setWithdrawalDelay(0);
            vm.expectRevert();
            rewards.setActivationDelay(1 minutes);
            vm.expectRevert();
            staking.setTreasury(keys[k]);
            vm.expectRevert();
            staking.setChallengeWindow(1 minutes);
            vm.expectRevert();
            staking.setMaxSlashBps(10_000);
            vm.expectRevert();
            datanets.setRewardsPool(keys[k]);
            vm.expectRevert();
            escrow.grantRole(settlerRole, keys[k]);
            vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, keys[k]));
            token.mint(keys[k], 1);
            vm.expectRevert();
            timelock.schedule(address(escrow), 0, "", bytes32(0), bytes32(0), TIMELOCK_DELAY);
            vm.stopPrank();
        }
    }

    function test_governanceChangesAParameter() public {
        (address[] memory t, bytes[] memory d) =
            one(address(rewards), abi.encodeCall(RewardsDistributor.setActivationDelay, (2 hours)));
        uint256[] memory values = new uint256[](1);
        string memory text = "Raise the rewards activation delay to 2 hours";
        vm.prank(voter);
        uint256 id = governor.propose(t, values, d, text);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Pending));
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(voter);
        governor.castVote(id, 1);
        vm.prank(smallHolder);
        governor.castVote(id, 0);
        (uint256 against, uint256 forVotes,) = governor.proposalVotes(id);
        assertEq(forVotes, 1_000_000 ether);
        assertEq(against, 1_000 ether);
        // Cannot queue while voting is open; cannot execute before the timelock delay.
        vm.expectRevert();
        governor.queue(t, values, d, keccak256(bytes(text)));
        vm.warp(block.timestamp + VOTING_PERIOD);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Succeeded));
        governor.queue(t, values, d, keccak256(bytes(text)));
        vm.expectRevert();
        governor.execute(t, values, d, keccak256(bytes(text)));
        assertEq(rewards.activationDelay(), 10 minutes);
        vm.warp(block.timestamp + TIMELOCK_DELAY);
        governor.execute(t, values, d, keccak256(bytes(text)));
        assertEq(rewards.activationDelay(), 2 hours);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Executed));
    }

    function test_defeatedProposalChangesNothing() public {
        (address[] memory t, bytes[] memory d) = one(address(staking), abi.encodeCall(Staking.setMaxSlashBps, (10_000)));
        uint256[] memory values = new uint256[](1);
        vm.prank(smallHolder);
        uint256 id = governor.propose(t, values, d, "slash everything");
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(voter);
        governor.castVote(id, 0);
        vm.prank(smallHolder);
        governor.castVote(id, 1);
        vm.warp(block.timestamp + VOTING_PERIOD);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Defeated));
        vm.expectRevert();
        governor.queue(t, values, d, keccak256("slash everything"));
        assertEq(staking.maxSlashBps(), 5_000);
    }

    /// Governance vetoes a slash inside its challenge window (window 1 day > voting + timelock).
    function test_governanceVetoesASlash() public {
        vm.startPrank(validator);
        token.approve(address(staking), 100 ether);
        staking.stake(100 ether);
        vm.stopPrank();
        vm.prank(slasher);
        uint256 slashId = staking.proposeSlash(validator, 50 ether, keccak256("evidence"), hex"da");
        (address[] memory t, bytes[] memory d) = one(address(staking), abi.encodeCall(Staking.vetoSlash, (slashId)));
        passProposal(t, d, "Veto slash 1: the evidence does not show a double vote");
        assertEq(uint8(staking.getSlash(slashId).status), uint8(Staking.SlashStatus.Vetoed));
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
        vm.expectRevert();
        staking.executeSlash(slashId);
        assertEq(staking.stakeOf(validator), 100 ether);
        assertEq(token.balanceOf(treasury), 0);
    }

    /// Fee shares and caps: governance sets the datanet owner-share bounds.
    function test_governanceSetsFeeShares() public {
        (address[] memory t, bytes[] memory d) =
            one(address(datanets), abi.encodeCall(DatanetRegistry.setOwnerShareBounds, (1_000, 2_500)));
        passProposal(t, d, "Owner share: default 10 %, at most 25 %");
        assertEq(datanets.defaultOwnerShareBps(), 1_000);
        assertEq(datanets.maxOwnerShareBps(), 2_500);
    }

    /// Fee shares and epoch length, read by the node at epoch close, change only through a vote.
    function test_governanceSetsFeeSharesAndEpochLength() public {
        vm.expectRevert();
        vm.prank(rootSubmitter);
        rewards.setEpochLength(2 hours);
        address[] memory t = new address[](2);
        bytes[] memory d = new bytes[](2);
        (t[0], t[1]) = (address(rewards), address(rewards));
        d[0] = abi.encodeCall(RewardsDistributor.setFeeShares, (RewardsDistributor.FeeShares(500, 3_500, 1_000, 5_000)));
        d[1] = abi.encodeCall(RewardsDistributor.setEpochLength, (6 hours));
        passProposal(t, d, "Contributors 50 %, epochs of 6 hours");
        (uint16 p, uint16 m, uint16 v, uint16 c) = rewards.feeShares();
        assertEq(uint256(p) + m + v + c, 10_000);
        assertEq(c, 5_000);
        assertEq(rewards.epochLength(), 6 hours);
        // A split that does not sum to 100 % fails at execution, changing nothing.
        (t, d) = one(address(rewards), abi.encodeCall(RewardsDistributor.setFeeShares, (RewardsDistributor.FeeShares(1, 1, 1, 1))));
        uint256[] memory values = new uint256[](1);
        vm.prank(voter);
        uint256 id = governor.propose(t, values, d, "bad split");
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(voter);
        governor.castVote(id, 1);
        vm.warp(block.timestamp + VOTING_PERIOD);
        governor.queue(t, values, d, keccak256("bad split"));
        vm.warp(block.timestamp + TIMELOCK_DELAY);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.InvalidFeeShares.selector, 4));
        governor.execute(t, values, d, keccak256("bad split"));
        (,,, c) = rewards.feeShares();
        assertEq(c, 5_000);
    }

    function test_malformedProposalsRefused() public {
        uint256[] memory values = new uint256[](1);
        (address[] memory t, bytes[] memory d) = one(makeAddr("eoa"), abi.encodeCall(Staking.vetoSlash, (1)));
        vm.expectRevert(abi.encodeWithSelector(OpenGovernor.ProposalTargetHasNoCode.selector, 0, t[0]));
        vm.prank(voter);
        governor.propose(t, values, d, "no code");
        (t, d) = one(address(staking), hex"abcd");
        vm.expectRevert(abi.encodeWithSelector(OpenGovernor.ProposalCalldataMalformed.selector, 0, 2));
        vm.prank(voter);
        governor.propose(t, values, d, "short calldata");
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorInvalidProposalLength.selector, 0, 0, 0));
        vm.prank(voter);
        governor.propose(new address[](0), new uint256[](0), new bytes[](0), "empty");
        (t, d) = one(address(staking), abi.encodeCall(Staking.vetoSlash, (1)));
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorInvalidProposalLength.selector, 1, 1, 2));
        vm.prank(voter);
        governor.propose(t, new uint256[](2), d, "unequal");
    }

    /// The timelock delay cannot be skipped even by the governor itself: its own delay change is a proposal too.
    function test_timelockDelayIsGoverned() public {
        vm.expectRevert();
        vm.prank(voter);
        timelock.updateDelay(0);
        (address[] memory t, bytes[] memory d) = one(address(timelock), abi.encodeWithSignature("updateDelay(uint256)", 2 days));
        passProposal(t, d, "Timelock delay 2 days");
        assertEq(timelock.getMinDelay(), 2 days);
    }
}
