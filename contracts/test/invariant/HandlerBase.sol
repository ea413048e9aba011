// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "../utils/Vm.sol";
import {OpenToken} from "../../src/OpenToken.sol";

/// @notice Base of invariant handlers: forge calls the handler's public functions with random arguments; each
///         function turns them into one valid-looking action by one of a few actors, and keeps ghost totals that
///         the invariants compare with the contracts' state. Not a test contract itself.
abstract contract HandlerBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    OpenToken internal immutable token;
    address internal immutable minter;
    address[] internal actors;

    /// How many times each action ran (successfully); read by the tests to check the campaign did something.
    mapping(bytes32 action => uint256) public calls;

    constructor(OpenToken token_, address minter_) {
        token = token_;
        minter = minter_;
        for (uint256 i = 0; i < 3; i++) actors.push(vm.addr(0xACC0 + i));
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function actorAt(uint256 i) external view returns (address) {
        return actors[i];
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        if (x >= min && x <= max) return x;
        return min + (x % (max - min + 1));
    }

    /// @dev Mints `amount` to `who` and approves `spender`, as the token owner.
    function _mintApprove(address who, uint256 amount, address spender) internal {
        vm.prank(minter);
        token.mint(who, amount);
        vm.prank(who);
        token.approve(spender, amount);
    }

    /// @notice Moves time forward by up to two days.
    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + _bound(secondsSeed, 1, 2 days));
        calls["warp"]++;
    }
}
