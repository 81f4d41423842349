#pragma once
// The slow KDF (PBKDF2, tens of ms a call) on one thread of its own: admin
// logins and extensions' web passwords never block the scheduler that serves
// SIP, and a burst of logins waits in one queue instead of taking threads.

#include <caf/atom.hpp>
#include <caf/fwd.hpp>

namespace pbx {

/// (verify_atom, plain, stored) -> bool
using verify_atom = caf::atom_constant<caf::atom("pwverify")>;
/// (hash_atom, plain) -> stored
using hash_atom = caf::atom_constant<caf::atom("pwhash")>;
/// (hash_rows_atom, std::vector<field_list>) -> the rows with every
/// `password` replaced by its hash (hash_password_fields)
using hash_rows_atom = caf::atom_constant<caf::atom("pwrows")>;

/// Spawn detached: it blocks its thread on purpose.
caf::behavior password_hasher();

} // namespace pbx
