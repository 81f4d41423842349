#pragma once
// libre prints some errors itself with re_fprintf(stderr, ...), e.g. one line
// per undecodable datagram: raw, without time or level, and without limit
// (11,284 lines for 60,000 garbage datagrams). The executable defines
// re_fprintf (libre reaches it through its PLT, proved at start-up by
// net/self_test.cpp): stderr lines go to our log as warnings, at most a few
// per second, with a count of those held back.

namespace pbx::net {

/// Lines libre printed to stderr through re_fprintf so far (all threads).
unsigned long libre_lines();

/// Says how many lines were held back since the last one logged (the sweep
/// calls it: a burst that ends leaves no later line to say it).
void libre_lines_flush();

/// The next `n` lines are expected (the start-up self-test provokes one):
/// logged at debug level only.
void libre_lines_expected(unsigned n);

} // namespace pbx::net
