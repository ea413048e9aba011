// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {HandlerBase} from "./HandlerBase.sol";
import {Merkle} from "../utils/Merkle.sol";
import {OpenToken} from "../../src/OpenToken.sol";
import {InferenceEscrow} from "../../src/InferenceEscrow.sol";
import {RewardsDistributor} from "../../src/RewardsDistributor.sol";
import {DatanetRegistry} from "../../src/DatanetRegistry.sol";

/// @notice The whole money path at once: payers deposit and authorize; a hostile settler asks for anything (and
///         replays epochs); buyers purchase paid datanet access while the owner moves the price; a root submitter
///         allocates what came in (honestly, or beyond it); earners claim. Ghosts record what went in and out.
contract EndToEndHandler is HandlerBase {
    InferenceEscrow internal immutable escrow;
    RewardsDistributor internal immutable rewards;
    DatanetRegistry internal immutable datanets;
    address internal immutable node;
    address internal immutable owner;
    uint256 public immutable datanetId;

    uint256 public ghostSettled;
    uint256 public ghostAccessRevenue;
    uint256 public ghostClaimedPaid;
    uint64 public ghostEpoch;
    uint256 public ghostEpochsSettled;
    bool public ghostViolation;
    mapping(address account => uint256) public ghostSigned;
    mapping(address account => uint256) public ghostDebited;
    mapping(address account => bool) public ghostBought;

    /// The latest submitted honest allocation (cumulative) and its epoch's tree.
    uint256[3] internal _alloc;
    uint64 public rootEpoch;
    mapping(uint64 epoch => uint256[3]) internal _trees;

    constructor(
        OpenToken token_,
        address minter_,
        InferenceEscrow escrow_,
        RewardsDistributor rewards_,
        DatanetRegistry datanets_,
        address node_
    ) HandlerBase(token_, minter_) {
        escrow = escrow_;
        rewards = rewards_;
        datanets = datanets_;
        node = node_;
        owner = vm.addr(0xD47A);
        vm.prank(owner);
        datanetId = datanets_.createDatanet("ipfs://paid", DatanetRegistry.AccessPolicy.Paid, 1 ether, 0);
    }

    function deposit(uint256 seed, uint256 amount) external {
        address a = _actor(seed);
        amount = _bound(amount, 1, 1e22);
        _mintApprove(a, amount, address(escrow));
        vm.prank(a);
        escrow.deposit(amount);
    }

    function approveSpend(uint256 seed, uint256 cap) external {
        address a = _actor(seed);
        cap = _bound(cap, 0, 1e22);
        vm.prank(a);
        escrow.approveSpend(bytes32(0), cap, uint64(block.timestamp + 7 days));
        ghostSigned[a] += cap;
    }

    function settle(uint256 x0, uint256 x1, uint256 x2) external {
        address[] memory accounts = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        uint256[3] memory xs = [x0, x1, x2];
        uint256[3] memory before;
        for (uint256 i = 0; i < 3; i++) {
            accounts[i] = actors[i];
            before[i] = escrow.balanceOf(actors[i]);
            amounts[i] = _bound(xs[i], 0, 2e22);
        }
        uint64 epoch = ghostEpoch + 1;
        vm.prank(node);
        uint256 moved = escrow.settle(epoch, accounts, amounts, bytes32(uint256(epoch)));
        ghostEpoch = epoch;
        ghostEpochsSettled++;
        ghostSettled += moved;
        for (uint256 i = 0; i < 3; i++) ghostDebited[actors[i]] += before[i] - escrow.balanceOf(actors[i]);
        calls["settle"]++;
    }

    /// Settling an epoch again must always be refused (every debit settles exactly once).
    function replayEpoch(uint256 x) external {
        if (ghostEpoch == 0) return;
        address[] memory accounts = new address[](1);
        uint256[] memory amounts = new uint256[](1);
        accounts[0] = actors[x % 3];
        amounts[0] = 1;
        vm.prank(node);
        try escrow.settle(ghostEpoch - uint64(x % ghostEpoch), accounts, amounts, bytes32(0)) {
            ghostViolation = true;
        } catch {}
    }

    function withdrawAll(uint256 seed) external {
        address a = _actor(seed);
        uint256 b = escrow.balanceOf(a);
        if (b == 0) return;
        InferenceEscrow.PendingWithdrawal memory p = escrow.pendingWithdrawal(a);
        if (p.availableAt == 0) {
            vm.prank(a);
            escrow.requestWithdrawal(b);
            return;
        }
        if (block.timestamp < p.availableAt) vm.warp(p.availableAt);
        vm.prank(a);
        escrow.withdraw();
    }

    /// The owner moves the price (maybe right before a purchase); buyers pay at most their maxPrice.
    function setPrice(uint256 price) external {
        vm.prank(owner);
        datanets.setAccessPolicy(datanetId, DatanetRegistry.AccessPolicy.Paid, _bound(price, 1, 1e21));
    }

    function purchase(uint256 seed, uint256 maxPrice) external {
        address a = _actor(seed);
        if (datanets.hasAccess(datanetId, a)) return;
        maxPrice = _bound(maxPrice, 1, 1e21);
        uint256 price = datanets.getDatanet(datanetId).accessPrice;
        _mintApprove(a, 1e21, address(datanets));
        uint256 balanceBefore = token.balanceOf(a);
        vm.prank(a);
        try datanets.purchaseAccess(datanetId, maxPrice) {
            uint256 paid = balanceBefore - token.balanceOf(a);
            if (paid > maxPrice || paid != price) ghostViolation = true;
            ghostAccessRevenue += paid;
            ghostBought[a] = true;
            calls["purchase"]++;
        } catch {
            if (price <= maxPrice) ghostViolation = true;
        }
        vm.prank(a);
        token.approve(address(datanets), 0);
    }

    /// Allocates part of the unallocated funding to the three actors (cumulative, never lowered).
    function submitHonestRoot(uint256 d0, uint256 d1, uint256 d2) external {
        uint256 sum = _alloc[0] + _alloc[1] + _alloc[2];
        uint256 funded = rewards.totalFunded();
        if (funded <= sum || rewards.pendingRoots().length >= rewards.MAX_PENDING_ROOTS()) return;
        uint256 room = (funded - sum) / 3;
        uint256[3] memory next = [_alloc[0] + _bound(d0, 0, room), _alloc[1] + _bound(d1, 0, room), _alloc[2] + _bound(d2, 0, room)];
        uint64 epoch = rootEpoch + 1;
        _trees[epoch] = next;
        vm.prank(node);
        rewards.submitRoot(epoch, Merkle.root(_leaves(next)), next[0] + next[1] + next[2], "");
        rootEpoch = epoch;
        _alloc = next;
        calls["root"]++;
    }

    /// A root paying the submitter's friend beyond everything funded: always refused.
    function submitGreedyRoot(uint256 extra) external {
        uint256[3] memory greedy = _alloc;
        greedy[0] = rewards.totalFunded() + _bound(extra, 1, 1e24);
        vm.prank(node);
        try rewards.submitRoot(rootEpoch + 1, Merkle.root(_leaves(greedy)), greedy[0] + greedy[1] + greedy[2], "") {
            ghostViolation = true;
        } catch {}
    }

    function claim(uint256 seed) external {
        uint64 epoch = rewards.latestActiveEpoch();
        if (epoch == 0) return;
        uint256 i = seed % 3;
        uint256[3] memory tree = _trees[epoch];
        uint256 before = token.balanceOf(actors[i]);
        try rewards.claim(actors[i], tree[i], Merkle.proof(_leaves(tree), i)) returns (uint256 paid) {
            if (token.balanceOf(actors[i]) - before != paid) ghostViolation = true;
            ghostClaimedPaid += paid;
            calls["claim"]++;
        } catch {}
    }

    function _leaves(uint256[3] memory amounts) internal view returns (bytes32[] memory ls) {
        ls = new bytes32[](3);
        for (uint256 i = 0; i < 3; i++) ls[i] = Merkle.leaf(actors[i], amounts[i]);
    }
}
