// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title OpenToken — the OPEN payment and governance token of a local OpenLedger chain
/// @notice ERC-20 "OpenLedger"/"OPEN" (18 decimals) with EIP-2612 permit and ERC20Votes (delegated voting power,
///         checkpointed by timestamp) for the OpenGovernor. On the local chain the deployer mints the dev
///         accounts' supply and then hands ownership (minting) to the Timelock, so more OPEN needs a proposal.
///         On a chain where OPEN is the gas token, the node is configured with a wrapped ERC-20 instead (it must
///         implement IVotes with a timestamp clock for governance).
/// @dev EIP-712 domain: {name: "OpenLedger", version: "1", chainId, verifyingContract}. Clock: timestamp
///      (CLOCK_MODE "mode=timestamp"), so Governor delays and periods are seconds.
contract OpenToken is ERC20, ERC20Permit, ERC20Votes, Ownable {
    /// @notice Deploys the token with no initial supply.
    /// @param initialOwner Account allowed to mint (the local faucet; the Timelock after deployment).
    constructor(address initialOwner) ERC20("OpenLedger", "OPEN") ERC20Permit("OpenLedger") Ownable(initialOwner) {}

    /// @notice Mints `amount` OPEN wei to `to`.
    /// @dev Requirements: caller is the owner; `to` is not the zero address (ERC20InvalidReceiver).
    /// @param to Recipient.
    /// @param amount Amount in OPEN wei.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @notice Voting checkpoints use block timestamps (seconds), not block numbers.
    function clock() public view override returns (uint48) {
        return uint48(block.timestamp);
    }

    /// @notice EIP-6372 clock description.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    // ---- required overrides ----

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
