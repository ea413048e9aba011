// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {RewardsDistributor} from "../../src/RewardsDistributor.sol";
import {InferenceEscrow} from "../../src/InferenceEscrow.sol";
import {Staking} from "../../src/Staking.sol";

/// @notice The whole system deployed and wired as contracts/README.md describes: `admin` deploys and holds
///         DEFAULT_ADMIN_ROLE everywhere, `node` gets OPERATOR/SETTLER/ROOT_SUBMITTER/SLASHER.
abstract contract Fixture is Test {
    uint64 internal constant ACTIVATION_DELAY = 1 hours;
    uint64 internal constant WITHDRAWAL_DELAY = 1 days;
    uint64 internal constant UNBONDING_DELAY = 7 days;

    address internal admin = makeAddr("admin");
    address internal node = makeAddr("node");
    address internal treasury = makeAddr("treasury");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");

    OpenToken internal token;
    DatanetRegistry internal datanets;
    ModelRegistry internal models;
    RewardsDistributor internal rewards;
    InferenceEscrow internal escrow;
    Staking internal staking;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        vm.startPrank(admin);
        token = new OpenToken(admin);
        datanets = new DatanetRegistry(admin, token);
        models = new ModelRegistry(admin, datanets);
        rewards = new RewardsDistributor(admin, token, ACTIVATION_DELAY);
        escrow = new InferenceEscrow(admin, token, address(rewards), WITHDRAWAL_DELAY);
        staking = new Staking(admin, token, treasury, UNBONDING_DELAY);
        datanets.grantRole(datanets.OPERATOR_ROLE(), node);
        models.grantRole(models.OPERATOR_ROLE(), node);
        escrow.grantRole(escrow.SETTLER_ROLE(), node);
        rewards.grantRole(rewards.ROOT_SUBMITTER_ROLE(), node);
        staking.grantRole(staking.SLASHER_ROLE(), node);
        vm.stopPrank();
    }

    /// @dev Mints `amount` OPEN to `who` and approves `spender` for it.
    function fund(address who, uint256 amount, address spender) internal {
        vm.prank(admin);
        token.mint(who, amount);
        vm.prank(who);
        token.approve(spender, amount);
    }
}
