// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "../utils/Fixture.sol";
import {EndToEndHandler} from "./EndToEndHandler.sol";

/// End to end, escrow → distributor → claims, plus paid datanet access → distributor: nothing is paid out that
/// was not paid in; no payer is debited beyond what it signed; every epoch settles exactly once; the registry
/// never keeps OPEN; no purchase pays above the buyer's maxPrice; bought access stays.
contract EndToEndInvariantTest is Fixture {
    EndToEndHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new EndToEndHandler(token, admin, escrow, rewards, datanets, node);
        targetContract(address(handler));
    }

    function invariant_nothingOutThatWasNotPaidIn() public view {
        assertEq(rewards.totalFunded(), handler.ghostSettled() + handler.ghostAccessRevenue(), "funded == settled + access");
        assertLe(rewards.totalClaimed(), rewards.totalFunded(), "claimed <= funded");
        assertEq(rewards.totalClaimed(), handler.ghostClaimedPaid(), "claimed == received by earners");
        assertEq(
            token.balanceOf(address(rewards)), rewards.totalFunded() - rewards.totalClaimed(), "pool == funded - claimed"
        );
        assertEq(token.balanceOf(address(escrow)), escrow.totalBalance(), "escrow holds exactly its balances");
        assertEq(token.balanceOf(address(datanets)), 0, "the registry keeps nothing");
    }

    function invariant_debitsOnlyWithinConsentAndOnce() public view {
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            address a = handler.actorAt(i);
            assertLe(handler.ghostDebited(a), handler.ghostSigned(a), "debited <= signed");
            if (handler.ghostBought(a)) assertTrue(datanets.hasAccess(handler.datanetId(), a), "bought access stays");
        }
        assertEq(escrow.lastSettledEpoch(), handler.ghostEpoch(), "one settlement per epoch");
        assertEq(uint256(handler.ghostEpoch()), handler.ghostEpochsSettled(), "epochs settled exactly once each");
        assertFalse(handler.ghostViolation(), "no replay, overpay, greedy root or overpriced purchase went through");
    }
}
