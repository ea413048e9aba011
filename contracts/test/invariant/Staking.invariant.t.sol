// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "../utils/Fixture.sol";
import {StakingHandler} from "./StakingHandler.sol";
import {Staking} from "../../src/Staking.sol";

/// Staking invariants: unbonding respects its delay (no withdrawal pays an entry before its release time, none
/// refuses a released one); stake and unbonding match an independent shadow; the contract holds exactly
/// stake + unbonding; slashed OPEN reaches the treasury; total supply is conserved.
contract StakingInvariantTest is Fixture {
    StakingHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new StakingHandler(token, admin, staking, node);
        targetContract(address(handler));
    }

    function invariant_unbondingRespectsDelay() public view {
        assertFalse(handler.ghostEarlyWithdrawal(), "withdrawals pay exactly the released entries");
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            address a = handler.actorAt(i);
            assertEq(staking.stakeOf(a), handler.shadowStake(a), "stake matches shadow");
            assertEq(staking.unbondingTotalOf(a), handler.shadowUnbonding(a), "unbonding matches shadow");
            Staking.UnbondingEntry[] memory es = staking.unbondingOf(a);
            assertEq(es.length, handler.shadowEntryCount(a), "entry count matches shadow");
        }
    }

    function invariant_accountingAndSupply() public view {
        assertEq(
            token.balanceOf(address(staking)), staking.totalStaked() + staking.totalUnbonding(), "held == staked + unbonding"
        );
        assertEq(
            handler.ghostStaked(),
            handler.ghostWithdrawn() + handler.ghostSlashed() + token.balanceOf(address(staking)),
            "staked == withdrawn + slashed + held"
        );
        assertEq(token.balanceOf(treasury), handler.ghostSlashed(), "treasury got the slashes");
        uint256 held = token.balanceOf(address(staking)) + token.balanceOf(treasury);
        for (uint256 i = 0; i < handler.actorCount(); i++) held += token.balanceOf(handler.actorAt(i));
        assertEq(held, token.totalSupply(), "supply conserved");
    }
}
