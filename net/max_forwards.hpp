#pragma once
// The Max-Forwards of requests libre builds (net/max_forwards.cpp says how).

namespace pbx::net {

/// While alive, requests libre builds on this thread carry Max-Forwards
/// `value` instead of libre's fixed 70.
class max_forwards_scope {
public:
  explicit max_forwards_scope(unsigned value);
  ~max_forwards_scope();
  max_forwards_scope(const max_forwards_scope&) = delete;
  max_forwards_scope& operator=(const max_forwards_scope&) = delete;

private:
  int saved_;
};


} // namespace pbx::net
