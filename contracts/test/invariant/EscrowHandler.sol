// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {HandlerBase} from "./HandlerBase.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {InferenceEscrow} from "../../src/InferenceEscrow.sol";

/// @notice Random deposits, withdrawal requests, cancellations, withdrawals and settlements on the escrow.
contract EscrowHandler is HandlerBase {
    InferenceEscrow internal immutable escrow;
    address internal immutable settler;

    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostSettled;
    uint64 public ghostEpoch;
    /// Set when a withdrawal paid out before its availableAt, or more than requested.
    bool public ghostBadWithdrawal;
    /// Everything each actor ever allowed (sum of caps signed) and everything debited from it.
    mapping(address account => uint256) public ghostSigned;
    mapping(address account => uint256) public ghostDebited;

    constructor(OpenToken token_, address minter_, InferenceEscrow escrow_, address settler_)
        HandlerBase(token_, minter_)
    {
        escrow = escrow_;
        settler = settler_;
    }

    function deposit(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        amount = _bound(amount, 1, 1e24);
        _mintApprove(a, amount, address(escrow));
        vm.prank(a);
        escrow.deposit(amount);
        ghostDeposited += amount;
        calls["deposit"]++;
    }

    /// The actor allows the settler a new cap (on chain; replaces the previous authorization).
    function approveSpend(uint256 actorSeed, uint256 cap, uint256 ttl) external {
        address a = _actor(actorSeed);
        cap = _bound(cap, 0, 1e24);
        vm.prank(a);
        escrow.approveSpend(bytes32(0), cap, uint64(block.timestamp + _bound(ttl, 1, 30 days)));
        ghostSigned[a] += cap;
        calls["approveSpend"]++;
    }

    function requestWithdrawal(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        uint256 balance = escrow.balanceOf(a);
        if (balance == 0) return;
        vm.prank(a);
        escrow.requestWithdrawal(_bound(amount, 1, balance));
        calls["request"]++;
    }

    function cancelWithdrawal(uint256 actorSeed) external {
        address a = _actor(actorSeed);
        if (escrow.pendingWithdrawal(a).availableAt == 0) return;
        vm.prank(a);
        escrow.cancelWithdrawal();
        calls["cancel"]++;
    }

    /// Moves time to within two hours either side of an actor's withdrawal availability: the boundary the delay
    /// rule lives on.
    function warpNearAvailability(uint256 actorSeed, uint256 offset) external {
        uint64 availableAt = escrow.pendingWithdrawal(_actor(actorSeed)).availableAt;
        if (availableAt == 0) return;
        uint256 target = uint256(availableAt) + _bound(offset, 0, 4 hours) - 2 hours;
        if (target <= block.timestamp) return;
        vm.warp(target);
        calls["warpNear"]++;
    }

    /// Tries a withdrawal whether or not it is due; a payout that breaks the rules flips ghostBadWithdrawal.
    function withdraw(uint256 actorSeed) external {
        address a = _actor(actorSeed);
        InferenceEscrow.PendingWithdrawal memory p = escrow.pendingWithdrawal(a);
        vm.prank(a);
        try escrow.withdraw() returns (uint256 paid) {
            if (p.availableAt == 0 || block.timestamp < p.availableAt || paid > p.amount) ghostBadWithdrawal = true;
            ghostWithdrawn += paid;
            calls["withdraw"]++;
        } catch {}
    }

    /// A settler asking for anything: within balances, beyond them, beyond the authorizations. Must never revert
    /// for one account's sake, and must debit each account at most min(asked, authorized remainder, balance).
    function settle(uint256 s0, uint256 s1, uint256 s2, bool overdraw) external {
        address[] memory accounts = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        uint256[3] memory seeds = [s0, s1, s2];
        uint256[3] memory before;
        uint256[3] memory allowed;
        for (uint256 i = 0; i < 3; i++) {
            accounts[i] = actors[i];
            before[i] = escrow.balanceOf(actors[i]);
            allowed[i] = escrow.authorizedRemaining(actors[i]);
            amounts[i] = _bound(seeds[i], 0, before[i] + 1e18);
        }
        if (overdraw) amounts[s0 % 3] = type(uint128).max;
        uint64 epoch = ghostEpoch + 1;
        vm.prank(settler);
        try escrow.settle(epoch, accounts, amounts, bytes32(uint256(epoch))) returns (uint256 moved) {
            ghostEpoch = epoch;
            ghostSettled += moved;
            for (uint256 i = 0; i < 3; i++) {
                uint256 debited = before[i] - escrow.balanceOf(actors[i]);
                uint256 expected = amounts[i] > allowed[i] ? 0 : (amounts[i] < before[i] ? amounts[i] : before[i]);
                if (debited != expected) ghostBadWithdrawal = true;
                ghostDebited[actors[i]] += debited;
            }
            calls["settle"]++;
        } catch {
            ghostBadWithdrawal = true; // settlement must not revert because of an account
        }
    }
}
