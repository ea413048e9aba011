// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {RewardsDistributor} from "../../src/RewardsDistributor.sol";
import {InferenceEscrow} from "../../src/InferenceEscrow.sol";
import {Staking} from "../../src/Staking.sol";

/// @notice The whole system deployed and wired as contracts/README.md describes: `admin` (standing in for the
///         Timelock) holds DEFAULT_ADMIN_ROLE everywhere; `node` gets OPERATOR/SETTLER/ROOT_SUBMITTER/SLASHER — one
///         key with every node role, the worst case the money rules must hold against; `guardian` may only cancel
///         roots and veto slashes. The registry pays access revenue into `rewards` and checks stake in `staking`.
abstract contract Fixture is Test {
    uint64 internal constant ACTIVATION_DELAY = 1 hours;
    uint64 internal constant WITHDRAWAL_DELAY = 1 days;
    uint64 internal constant UNBONDING_DELAY = 7 days;
    uint64 internal constant MIN_ACTIVATION_DELAY = 10 minutes;
    uint64 internal constant CHALLENGE_WINDOW = 3 days;
    uint16 internal constant MAX_SLASH_BPS = 5_000;

    address internal admin = makeAddr("admin");
    address internal node = makeAddr("node");
    address internal treasury = makeAddr("treasury");
    address internal guardian = makeAddr("guardian");
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
        rewards = new RewardsDistributor(admin, token, ACTIVATION_DELAY, MIN_ACTIVATION_DELAY);
        escrow = new InferenceEscrow(admin, token, address(rewards), WITHDRAWAL_DELAY);
        staking = new Staking(admin, token, treasury, UNBONDING_DELAY, CHALLENGE_WINDOW, MAX_SLASH_BPS);
        datanets.setRewardsPool(address(rewards));
        datanets.setStaking(address(staking));
        rewards.grantRole(rewards.GUARDIAN_ROLE(), guardian);
        staking.grantRole(staking.GUARDIAN_ROLE(), guardian);
        datanets.grantRole(datanets.OPERATOR_ROLE(), node);
        models.grantRole(models.OPERATOR_ROLE(), node);
        escrow.grantRole(escrow.SETTLER_ROLE(), node);
        rewards.grantRole(rewards.ROOT_SUBMITTER_ROLE(), node);
        staking.grantRole(staking.SLASHER_ROLE(), node);
        vm.stopPrank();
    }

    /// @dev `who` authorizes the escrow's settler to debit up to `cap` for a year (on-chain approval).
    function authorize(address who, uint256 cap) internal {
        vm.prank(who);
        escrow.approveSpend(bytes32(0), cap, uint64(block.timestamp + 365 days));
    }

    /// @dev Mints and stakes `amount` OPEN for `who`.
    function stakeFor(address who, uint256 amount) internal {
        fund(who, amount, address(staking));
        vm.prank(who);
        staking.stake(amount);
    }

    /// @dev Mints `amount` OPEN to `who` and approves `spender` for it.
    function fund(address who, uint256 amount, address spender) internal {
        vm.prank(admin);
        token.mint(who, amount);
        vm.prank(who);
        token.approve(spender, amount);
    }
}
