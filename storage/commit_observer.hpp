#pragma once
// Who hears how long each LMDB write transaction took to commit (the node's
// metrics). storage/ depends on nothing above it, so it calls a plain
// function that the node sets at start.

#include <cstdint>

namespace pbx::storage {

/// Called on the committing thread after every top-level write commit.
using commit_observer = void (*)(std::uint64_t nanoseconds);

/// Sets the observer (nullptr: none); safe to call while writes run.
void set_commit_observer(commit_observer f);

} // namespace pbx::storage
