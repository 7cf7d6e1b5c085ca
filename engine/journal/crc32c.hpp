#pragma once
// CRC-32C (Castagnoli), as the event log checks its records with: SSE4.2's crc32
// instruction in three streams when the CPU has it, a table otherwise.

#include <cstdint>
#include <string_view>

namespace switchyard::journal {

/// CRC-32C of `data`, continuing from `crc` (0 to start).
std::uint32_t crc32c(std::uint32_t crc, std::string_view data);

}  // namespace switchyard::journal
