// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {HandlerBase} from "./HandlerBase.sol";
import {Merkle} from "../utils/Merkle.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {RewardsDistributor} from "../../src/RewardsDistributor.sol";

/// @notice Random root submissions (honest ones that only grow each actor's cumulative amount, and inflated "bad"
///         ones that get disabled before activation), claims, forged claims and funding.
contract RewardsHandler is HandlerBase {
    RewardsDistributor internal immutable rewards;
    address internal immutable submitter;

    /// Cumulative amounts of each submitted epoch's tree, by actor index.
    mapping(uint64 epoch => uint256[3]) internal _amounts;
    mapping(uint64 epoch => bool) public isBad;
    /// The honest allotment so far (what the latest honest root grants).
    uint256[3] public allotted;
    uint64 public lastEpoch;
    uint64 public lastBadEpoch;

    uint256 public ghostFunded;
    uint256 public ghostPaid;
    mapping(address account => uint256) public ghostPaidTo;
    /// Set when a claim paid against a disabled root or a forged amount.
    bool public ghostBadClaim;

    constructor(OpenToken token_, address minter_, RewardsDistributor rewards_, address submitter_)
        HandlerBase(token_, minter_)
    {
        rewards = rewards_;
        submitter = submitter_;
    }

    function allottedTo(uint256 i) external view returns (uint256) {
        return allotted[i];
    }

    function _leaves(uint64 epoch) internal view returns (bytes32[] memory ls) {
        ls = new bytes32[](3);
        for (uint256 i = 0; i < 3; i++) ls[i] = Merkle.leaf(actors[i], _amounts[epoch][i]);
    }

    function _submit(uint256[3] memory amounts, bool bad) internal returns (uint64 epoch) {
        epoch = lastEpoch + 1;
        _amounts[epoch] = amounts;
        isBad[epoch] = bad;
        vm.prank(submitter);
        rewards.submitRoot(epoch, Merkle.root(_leaves(epoch)), amounts[0] + amounts[1] + amounts[2], "");
        lastEpoch = epoch;
    }

    function _headroom() internal view returns (uint256) {
        uint256 sum = allotted[0] + allotted[1] + allotted[2];
        return ghostFunded > sum ? ghostFunded - sum : 0;
    }

    /// Honest roots grow the allotment only by what was funded (a root beyond funding is refused by the contract).
    function submitRoot(uint256 d0, uint256 d1, uint256 d2) external {
        uint256 room = _headroom() / 3;
        uint256[3] memory next;
        next[0] = allotted[0] + _bound(d0, 0, room);
        next[1] = allotted[1] + _bound(d1, 0, room);
        next[2] = allotted[2] + _bound(d2, 0, room);
        _submit(next, false);
        allotted = next;
        calls["submit"]++;
    }

    /// A root that hands one actor the whole unallocated pool (within funding, so the contract accepts it),
    /// cancelled in the same block (before it can activate).
    function submitBadRootAndDisable(uint256 who) external {
        uint256 room = _headroom();
        if (room == 0) return;
        uint256[3] memory inflated = allotted;
        inflated[who % 3] += room;
        uint64 epoch = _submit(inflated, true);
        vm.prank(submitter);
        rewards.disableRoot(epoch);
        lastBadEpoch = epoch;
        calls["bad"]++;
    }

    function fund(uint256 amount) external {
        amount = _bound(amount, 1, 3e21);
        _mintApprove(minter, amount, address(rewards));
        vm.prank(minter);
        rewards.fund(amount);
        ghostFunded += amount;
        calls["fund"]++;
    }

    /// Honest claim with the tree of the latest active epoch (may revert: nothing due, underfunded).
    function claim(uint256 actorSeed, address caller) external {
        uint64 epoch = rewards.latestActiveEpoch();
        if (epoch == 0) return;
        uint256 i = actorSeed % 3;
        uint256 amount = _amounts[epoch][i];
        if (isBad[epoch]) ghostBadClaim = true; // a disabled root must never be the active one
        vm.prank(caller);
        try rewards.claim(actors[i], amount, Merkle.proof(_leaves(epoch), i)) returns (uint256 paid) {
            ghostPaid += paid;
            ghostPaidTo[actors[i]] += paid;
            calls["claim"]++;
        } catch {}
    }

    /// A hostile root submitter tries to pay more than was ever funded: always refused.
    function submitBeyondFunding(uint256 extra) external {
        uint256[3] memory over = allotted;
        over[0] += _headroom() + _bound(extra, 1, 1e24);
        bytes32[] memory ls = new bytes32[](3);
        for (uint256 i = 0; i < 3; i++) ls[i] = Merkle.leaf(actors[i], over[i]);
        vm.prank(submitter);
        try rewards.submitRoot(lastEpoch + 1, Merkle.root(ls), over[0] + over[1] + over[2], "") {
            ghostBadClaim = true;
        } catch {}
        calls["beyondFunding"]++;
    }

    /// Forged claims: the cancelled root's inflated leaf, or the honest leaf with a bumped amount.
    function claimForged(uint256 actorSeed, uint256 bump) external {
        uint256 i = actorSeed % 3;
        uint64 epoch = rewards.latestActiveEpoch();
        if (lastBadEpoch != 0) {
            try rewards.claim(actors[i], _amounts[lastBadEpoch][i], Merkle.proof(_leaves(lastBadEpoch), i)) {
                ghostBadClaim = true;
            } catch {}
        }
        if (epoch != 0) {
            try rewards.claim(actors[i], _amounts[epoch][i] + _bound(bump, 1, 1e24), Merkle.proof(_leaves(epoch), i)) {
                ghostBadClaim = true;
            } catch {}
        }
        calls["forged"]++;
    }
}
