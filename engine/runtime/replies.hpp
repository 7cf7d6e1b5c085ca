#pragma once
// Internal: the SDK's Replies for one pipeline (a version of it, during a hot reload): the
// requests its source parked, timed out on the engine's clock by one timer.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/io.hpp"
#include "switchyard/replies.hpp"

namespace switchyard::runtime {

class PipelineReplies final : public Replies {
 public:
  explicit PipelineReplies(Strand strand);
  ~PipelineReplies() override;
  PipelineReplies(const PipelineReplies&) = delete;
  PipelineReplies& operator=(const PipelineReplies&) = delete;

  void park(std::string event_id, std::chrono::milliseconds within, ReplyHandler handler) override;
  bool answer(std::string_view event_id, Reply reply) override;
  bool withdraw(std::string_view event_id) override;
  /// Whether a request for `event_id` is parked (cheap when none is: no lock taken).
  bool waiting(std::string_view event_id) const;
  /// The pipeline is through with `event_id` and nothing answered: its parked request, if
  /// any, gets Reply::unanswered (the source's fallback answer). Returns whether one was.
  bool unanswered(std::string_view event_id);
  /// Answers every parked request with nullopt (no reply) and every later park at once:
  /// the pipeline has stopped.
  void close();
  /// Requests parked now.
  std::size_t parked() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace switchyard::runtime
