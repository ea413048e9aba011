// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "../utils/Fixture.sol";
import {RewardsHandler} from "./RewardsHandler.sol";

/// Rewards invariants: no account is ever paid more than its honest cumulative allotment; claims never exceed
/// what was funded; cancelled roots and forged amounts never pay; total supply is conserved.
contract RewardsDistributorInvariantTest is Fixture {
    RewardsHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new RewardsHandler(token, admin, rewards, node);
        targetContract(address(handler));
    }

    function invariant_noClaimExceedsAllotment() public view {
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            address a = handler.actorAt(i);
            assertLe(rewards.claimed(a), handler.allottedTo(i), "claimed <= allotted");
            assertLe(handler.ghostPaidTo(a), handler.allottedTo(i), "paid <= allotted");
            assertEq(rewards.claimed(a), handler.ghostPaidTo(a), "claimed == paid to account");
            assertEq(token.balanceOf(a), handler.ghostPaidTo(a), "account holds what it was paid");
        }
        assertFalse(handler.ghostBadClaim(), "no claim against a cancelled root or a forged amount");
    }

    function invariant_fundsAndSupply() public view {
        assertEq(rewards.totalClaimed(), handler.ghostPaid(), "totalClaimed == paid");
        assertEq(token.balanceOf(address(rewards)), handler.ghostFunded() - handler.ghostPaid(), "pool == funded - paid");
        uint256 held = token.balanceOf(address(rewards)) + token.balanceOf(admin);
        for (uint256 i = 0; i < handler.actorCount(); i++) held += token.balanceOf(handler.actorAt(i));
        assertEq(held, token.totalSupply(), "supply conserved");
    }
}
