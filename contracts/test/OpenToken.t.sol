// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

contract OpenTokenTest is Fixture {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    function test_metadata() public view {
        assertEq(token.name(), "OpenLedger");
        assertEq(token.symbol(), "OPEN");
        assertEq(token.decimals(), 18);
        assertEq(token.totalSupply(), 0);
        assertEq(token.owner(), admin);
    }

    function test_ownerMints() public {
        vm.prank(admin);
        token.mint(alice, 5 ether);
        assertEq(token.balanceOf(alice), 5 ether);
        assertEq(token.totalSupply(), 5 ether);
    }

    function test_mint_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        token.mint(alice, 1);
    }

    function _permitSig(uint256 key, address spender, uint256 value, uint256 nonce, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        address owner = vm.addr(key);
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, nonce, deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(key, digest);
    }

    function test_permit_setsAllowanceAndBumpsNonce() public {
        uint256 key = 0xA11CE;
        address owner = vm.addr(key);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(key, bob, 7 ether, 0, deadline);
        token.permit(owner, bob, 7 ether, deadline, v, r, s);
        assertEq(token.allowance(owner, bob), 7 ether);
        assertEq(token.nonces(owner), 1);
        // Replaying the same signature fails: the nonce moved.
        vm.expectRevert();
        token.permit(owner, bob, 7 ether, deadline, v, r, s);
    }

    function test_permit_revertsAfterDeadline() public {
        uint256 key = 0xA11CE;
        uint256 deadline = block.timestamp - 1;
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(key, bob, 1, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(vm.addr(key), bob, 1, deadline, v, r, s);
    }

    function testFuzz_mintAndTransferConserveSupply(uint128 a, uint128 b, uint128 moved) public {
        vm.startPrank(admin);
        token.mint(alice, a);
        token.mint(bob, b);
        vm.stopPrank();
        uint256 x = bound(moved, 0, a);
        vm.prank(alice);
        token.transfer(bob, x);
        assertEq(token.balanceOf(alice) + token.balanceOf(bob), uint256(a) + b);
        assertEq(token.totalSupply(), uint256(a) + b);
    }

    /// Votes: timestamp clock; balances count only once delegated; delegated votes follow transfers; past votes
    /// (the governor's snapshots) do not change afterwards.
    function test_votes_timestampClockAndDelegation() public {
        assertEq(token.CLOCK_MODE(), "mode=timestamp");
        assertEq(token.clock(), block.timestamp);
        vm.prank(admin);
        token.mint(alice, 10 ether);
        assertEq(token.getVotes(alice), 0);
        vm.prank(alice);
        token.delegate(alice);
        assertEq(token.getVotes(alice), 10 ether);
        uint256 t0 = block.timestamp;
        vm.warp(t0 + 10);
        vm.prank(alice);
        token.transfer(bob, 4 ether);
        assertEq(token.getVotes(alice), 6 ether);
        assertEq(token.getVotes(bob), 0); // bob has not delegated
        vm.warp(t0 + 20);
        assertEq(token.getPastVotes(alice, t0), 10 ether);
        assertEq(token.getPastVotes(alice, t0 + 10), 6 ether);
        assertEq(token.getPastTotalSupply(t0 + 10), 10 ether);
    }
}
