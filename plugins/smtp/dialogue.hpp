#pragma once
// Reads the SMTP dialogue libcurl reports to its debug callback (CURLINFO_HEADER_OUT: the
// commands it sends; CURLINFO_HEADER_IN: the server's reply lines) and assigns each reply to
// the command it answers: every RCPT's reply (which curl does not report), the reply to the
// message itself, the first refusal, and the EHLO capabilities. What follows AUTH
// (credentials) is never kept; of the other commands, only RCPT's address.

#include <string>
#include <string_view>
#include <vector>

#include "client.hpp"

namespace switchyard::smtp {

class Transcript {
 public:
  /// Fills `outcome` (recipients, failed step, final reply) and `capabilities`, which belong
  /// to the connection and outlive one message (a reused connection has no new EHLO).
  Transcript(Outcome& outcome, Capabilities& capabilities) : outcome_(outcome), capabilities_(capabilities) {}

  /// A command line sent (CURLINFO_HEADER_OUT).
  void command(std::string_view line);
  /// Reply data received (CURLINFO_HEADER_IN): one or more lines.
  void reply(std::string_view data);
  /// Whether the server answered anything during this message.
  bool any_reply() const { return any_reply_; }

 private:
  void reply_line(std::string_view line);
  void finished(const Reply& reply);
  void read_capabilities();

  Outcome& outcome_;
  Capabilities& capabilities_;
  std::string pending_;  // the command waiting for its reply; "" before the greeting
  std::string rcpt_;
  std::vector<std::string> lines_;  // of the reply being read
  bool any_reply_ = false;
};

}  // namespace switchyard::smtp
