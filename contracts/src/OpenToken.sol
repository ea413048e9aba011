// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title OpenToken — the OPEN payment token of a local OpenLedger chain
/// @notice ERC-20 "OpenLedger"/"OPEN" (18 decimals) with EIP-2612 permit. On the local chain the owner
///         (the node's operator key) mints freely so that dev accounts can be funded; on a chain where
///         OPEN is the gas token, the node is configured with a wrapped ERC-20 address instead.
/// @dev EIP-712 domain: {name: "OpenLedger", version: "1", chainId, verifyingContract}.
contract OpenToken is ERC20, ERC20Permit, Ownable {
    /// @notice Deploys the token with no initial supply.
    /// @param initialOwner Account allowed to mint (the local faucet).
    constructor(address initialOwner) ERC20("OpenLedger", "OPEN") ERC20Permit("OpenLedger") Ownable(initialOwner) {}

    /// @notice Mints `amount` OPEN wei to `to` (local faucet).
    /// @dev Requirements: caller is the owner; `to` is not the zero address (ERC20InvalidReceiver).
    /// @param to Recipient.
    /// @param amount Amount in OPEN wei.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
