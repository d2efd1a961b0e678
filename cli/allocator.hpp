#pragma once
// Which allocator serves this process's malloc: mimalloc where the build links it (MOESIM_MIMALLOC,
// every preset but the sanitizers'), else the C library's. A step graph is thousands of small
// vectors made and freed per evaluation; mimalloc took a third off a plan's search
// (docs/performance.md, stop 31).

#include <string>

namespace moesim::tools {

/// "mimalloc 2.0.9" when mimalloc serves malloc (checked on a live allocation, not assumed from
/// the build), "the default malloc" otherwise.
std::string allocator_name();

}  // namespace moesim::tools
