// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {HandlerBase} from "./HandlerBase.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {Staking} from "../../src/Staking.sol";

/// @notice Random stakes, unbonds, withdrawals (due or not) and slashes. Keeps its own shadow of every unbonding
///         entry (amount, releaseAt) — cut by slashes newest first, as documented — to check withdrawals against.
contract StakingHandler is HandlerBase {
    Staking internal immutable staking;
    address internal immutable slasher;

    struct Entry {
        uint256 amount;
        uint64 releaseAt;
    }

    mapping(address account => Entry[]) internal _shadow;
    mapping(address account => uint256) public shadowStake;

    uint256 public ghostStaked;
    uint256 public ghostWithdrawn;
    uint256 public ghostSlashed;
    /// Set when a withdrawal paid anything other than the shadow's released entries.
    bool public ghostEarlyWithdrawal;

    constructor(OpenToken token_, address minter_, Staking staking_, address slasher_) HandlerBase(token_, minter_) {
        staking = staking_;
        slasher = slasher_;
    }

    function shadowUnbonding(address a) public view returns (uint256 total) {
        Entry[] storage es = _shadow[a];
        for (uint256 i = 0; i < es.length; i++) total += es[i].amount;
    }

    function shadowEntryCount(address a) external view returns (uint256) {
        return _shadow[a].length;
    }

    function stake(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        amount = _bound(amount, 1, 1e24);
        _mintApprove(a, amount, address(staking));
        vm.prank(a);
        staking.stake(amount);
        shadowStake[a] += amount;
        ghostStaked += amount;
        calls["stake"]++;
    }

    function unbond(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        if (shadowStake[a] == 0 || _shadow[a].length >= staking.MAX_UNBONDING_ENTRIES()) return;
        amount = _bound(amount, 1, shadowStake[a]);
        vm.prank(a);
        uint64 releaseAt = staking.unbond(amount);
        if (releaseAt != block.timestamp + staking.unbondingDelay()) ghostEarlyWithdrawal = true;
        shadowStake[a] -= amount;
        _shadow[a].push(Entry(amount, releaseAt));
        calls["unbond"]++;
    }

    /// Tries to withdraw whether or not anything is released.
    function withdraw(uint256 actorSeed) external {
        address a = _actor(actorSeed);
        Entry[] storage es = _shadow[a];
        uint256 due;
        for (uint256 i = 0; i < es.length; i++) if (es[i].releaseAt <= block.timestamp) due += es[i].amount;
        bool frozen = staking.pendingSlashOf(a) != 0;
        vm.prank(a);
        try staking.withdraw() returns (uint256 paid) {
            if (paid != due || frozen) ghostEarlyWithdrawal = true;
            ghostWithdrawn += paid;
            // Drop released entries from the shadow, keeping order.
            uint256 kept;
            for (uint256 i = 0; i < es.length; i++) {
                if (es[i].releaseAt > block.timestamp) es[kept++] = es[i];
            }
            while (es.length > kept) es.pop();
            calls["withdraw"]++;
        } catch {
            // Something was due and was refused, without a pending slash freezing it.
            if (due > 0 && !frozen) ghostEarlyWithdrawal = true;
        }
    }

    /// The slasher proposes (with evidence, within the cap); the slash stays pending: the validator may try to
    /// withdraw, unbond, or time may pass before it is resolved.
    function proposeSlash(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        if (staking.pendingSlashOf(a) != 0) return;
        uint256 cap = (shadowStake[a] + shadowUnbonding(a)) * staking.maxSlashBps() / 10_000;
        if (cap == 0) return;
        amount = _bound(amount, 1, cap);
        vm.prank(slasher);
        staking.proposeSlash(a, amount, keccak256("evidence"), hex"da");
        calls["propose"]++;
    }

    /// A hostile slasher tries to execute before the window ends: always refused.
    function executeEarly(uint256 actorSeed) external {
        uint256 id = staking.pendingSlashOf(_actor(actorSeed));
        if (id == 0 || block.timestamp >= staking.getSlash(id).executableAt) return;
        vm.prank(slasher);
        try staking.executeSlash(id) {
            ghostEarlyWithdrawal = true;
        } catch {}
    }

    /// Governance vetoes inside the window, or the window passes and anyone executes.
    function resolve(uint256 actorSeed, bool veto) external {
        address a = _actor(actorSeed);
        uint256 id = staking.pendingSlashOf(a);
        if (id == 0) return;
        Staking.SlashProposal memory p = staking.getSlash(id);
        if (veto && block.timestamp < p.executableAt) {
            vm.prank(minter); // the admin (the Timelock's stand-in) in the fixture
            staking.vetoSlash(id);
            calls["veto"]++;
            return;
        }
        if (block.timestamp < p.executableAt) vm.warp(p.executableAt);
        uint256 taken = staking.executeSlash(id);
        uint256 slashable = shadowStake[a] + shadowUnbonding(a);
        if (taken != (p.amount < slashable ? p.amount : slashable)) ghostEarlyWithdrawal = true;
        uint256 fromStake = taken < shadowStake[a] ? taken : shadowStake[a];
        shadowStake[a] -= fromStake;
        uint256 rest = taken - fromStake;
        Entry[] storage es = _shadow[a];
        while (rest > 0) {
            Entry storage last = es[es.length - 1];
            if (last.amount <= rest) {
                rest -= last.amount;
                es.pop();
            } else {
                last.amount -= rest;
                rest = 0;
            }
        }
        ghostSlashed += taken;
        calls["slash"]++;
    }
}
