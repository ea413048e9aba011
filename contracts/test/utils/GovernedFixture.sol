// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {RewardsDistributor} from "../../src/RewardsDistributor.sol";
import {InferenceEscrow} from "../../src/InferenceEscrow.sol";
import {Staking} from "../../src/Staking.sol";
import {OpenTimelock} from "../../src/OpenTimelock.sol";
import {OpenGovernor} from "../../src/OpenGovernor.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @notice The system deployed exactly as src/chain/deploy.ts does it: a deployer wires everything and then
///         renounces; the OpenTimelock is admin of every contract (and owner of OPEN); its only proposer and
///         canceller is the OpenGovernor; every node role is a different key; the treasury is an address of its own.
abstract contract GovernedFixture is Test {
    uint256 internal constant TIMELOCK_DELAY = 1 hours;
    uint48 internal constant VOTING_DELAY = 1;
    uint32 internal constant VOTING_PERIOD = 1 hours;
    uint64 internal constant CHALLENGE_WINDOW = 1 days;

    address internal deployer = makeAddr("deployer");
    address internal operator = makeAddr("operator");
    address internal settler = makeAddr("settler");
    address internal rootSubmitter = makeAddr("rootSubmitter");
    address internal slasher = makeAddr("slasher");
    address internal guardian = makeAddr("guardian");
    address internal treasury = makeAddr("treasury");
    address internal voter = makeAddr("voter");
    address internal smallHolder = makeAddr("smallHolder");
    address internal validator = makeAddr("validator");
    address internal payer = makeAddr("payer");

    OpenToken internal token;
    OpenTimelock internal timelock;
    OpenGovernor internal governor;
    DatanetRegistry internal datanets;
    ModelRegistry internal models;
    RewardsDistributor internal rewards;
    InferenceEscrow internal escrow;
    Staking internal staking;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        vm.startPrank(deployer);
        token = new OpenToken(deployer);
        address[] memory none = new address[](0);
        address[] memory anyone = new address[](1); // address(0): anyone may execute a ready operation
        timelock = new OpenTimelock(TIMELOCK_DELAY, none, anyone, deployer);
        governor = new OpenGovernor(token, timelock, VOTING_DELAY, VOTING_PERIOD, 0, 4);
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));

        datanets = new DatanetRegistry(deployer, token);
        models = new ModelRegistry(deployer, datanets);
        rewards = new RewardsDistributor(deployer, token, 10 minutes, 1 minutes);
        escrow = new InferenceEscrow(deployer, token, address(rewards), 1 days);
        staking = new Staking(deployer, token, treasury, 7 days, CHALLENGE_WINDOW, 5_000);
        datanets.setRewardsPool(address(rewards));
        datanets.setStaking(address(staking));

        datanets.grantRole(datanets.OPERATOR_ROLE(), operator);
        models.grantRole(models.OPERATOR_ROLE(), operator);
        escrow.grantRole(escrow.SETTLER_ROLE(), settler);
        rewards.grantRole(rewards.ROOT_SUBMITTER_ROLE(), rootSubmitter);
        rewards.grantRole(rewards.GUARDIAN_ROLE(), guardian);
        staking.grantRole(staking.SLASHER_ROLE(), slasher);
        staking.grantRole(staking.GUARDIAN_ROLE(), guardian);

        token.mint(voter, 1_000_000 ether);
        token.mint(smallHolder, 1_000 ether);
        token.mint(validator, 100 ether);
        token.mint(payer, 100 ether);

        IAccessControl[5] memory all = [
            IAccessControl(address(datanets)),
            IAccessControl(address(models)),
            IAccessControl(address(rewards)),
            IAccessControl(address(escrow)),
            IAccessControl(address(staking))
        ];
        for (uint256 i = 0; i < all.length; i++) {
            all[i].grantRole(bytes32(0), address(timelock));
            all[i].renounceRole(bytes32(0), deployer);
        }
        token.transferOwnership(address(timelock));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), deployer);
        vm.stopPrank();

        vm.prank(voter);
        token.delegate(voter);
        vm.prank(smallHolder);
        token.delegate(smallHolder);
        vm.warp(block.timestamp + 1);
    }

    /// @dev Runs one proposal through the whole pipeline: propose → vote for → queue → execute.
    function passProposal(address[] memory targets, bytes[] memory calldatas, string memory description)
        internal
        returns (uint256 id)
    {
        uint256[] memory values = new uint256[](targets.length);
        vm.prank(voter);
        id = governor.propose(targets, values, calldatas, description);
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(voter);
        governor.castVote(id, 1);
        vm.warp(block.timestamp + VOTING_PERIOD);
        bytes32 descriptionHash = keccak256(bytes(description));
        governor.queue(targets, values, calldatas, descriptionHash);
        vm.warp(block.timestamp + TIMELOCK_DELAY);
        governor.execute(targets, values, calldatas, descriptionHash);
    }

    function one(address target, bytes memory data) internal pure returns (address[] memory t, bytes[] memory d) {
        t = new address[](1);
        d = new bytes[](1);
        t[0] = target;
        d[0] = data;
    }
}
