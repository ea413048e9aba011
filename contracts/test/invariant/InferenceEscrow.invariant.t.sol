// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "../utils/Fixture.sol";
import {EscrowHandler} from "./EscrowHandler.sol";

/// Escrow invariants: balances sum to the contract's OPEN; every OPEN that entered left only by a due withdrawal
/// or a settlement into the sink; total supply is conserved across holders.
contract InferenceEscrowInvariantTest is Fixture {
    EscrowHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new EscrowHandler(token, admin, escrow, node);
        targetContract(address(handler));
    }

    function invariant_balancesSumToTokenBalance() public view {
        uint256 sum;
        for (uint256 i = 0; i < handler.actorCount(); i++) sum += escrow.balanceOf(handler.actorAt(i));
        assertEq(sum, escrow.totalBalance(), "sum of balances == totalBalance");
        assertEq(token.balanceOf(address(escrow)), escrow.totalBalance(), "token balance == totalBalance");
    }

    function invariant_flowsAndSupply() public view {
        assertEq(
            handler.ghostDeposited(),
            handler.ghostWithdrawn() + handler.ghostSettled() + token.balanceOf(address(escrow)),
            "deposited == withdrawn + settled + held"
        );
        assertEq(token.balanceOf(address(rewards)), handler.ghostSettled(), "sink got exactly the settlements");
        assertEq(rewards.totalFunded(), handler.ghostSettled(), "settlements count as the sink's funding");
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            address a = handler.actorAt(i);
            assertLe(handler.ghostDebited(a), handler.ghostSigned(a), "no account debited beyond what it signed");
        }
        assertFalse(handler.ghostBadWithdrawal(), "no early or oversized payout; settle debits exactly min(ask, auth, balance)");
        assertEq(escrow.lastSettledEpoch(), handler.ghostEpoch());
        uint256 held = token.balanceOf(address(escrow)) + token.balanceOf(address(rewards));
        for (uint256 i = 0; i < handler.actorCount(); i++) held += token.balanceOf(handler.actorAt(i));
        assertEq(held, token.totalSupply(), "supply conserved");
    }
}
