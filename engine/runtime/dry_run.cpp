#include "runtime/dry_run.hpp"

#include <cstdint>
#include <functional>
#include <future>
#include <string_view>
#include <thread>

#include "runtime/pipeline.hpp"

namespace switchyard::runtime {
namespace {

// The board travels in the components' options as a number: the registry maps it back.
// A board is registered for as long as a configuration that names it exists.
class Boards {
 public:
  static Boards& instance() {
    static Boards boards;
    return boards;
  }
  std::uint64_t add(std::shared_ptr<DryRunBoard> board) {
    std::lock_guard lock(mutex_);
    boards_[++next_] = std::move(board);
    return next_;
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    boards_.erase(id);
  }
  std::shared_ptr<DryRunBoard> find(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    auto it = boards_.find(id);
    return it == boards_.end() ? nullptr : it->second.lock();
  }

 private:
  std::mutex mutex_;
  std::map<std::uint64_t, std::weak_ptr<DryRunBoard>> boards_;
  std::uint64_t next_ = 0;
};

constexpr OptionSpec kOptions[] = {
    {.name = "board", .type = OptionType::integer, .required = true, .description = "The dry run's board."},
};

class InputSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override {
    board_ = Boards::instance().find(static_cast<std::uint64_t>(options.integer("board")));
    if (!board_) return invalid_config("no dry-run board");
    context_ = &context;
    return {};
  }
  Status start() override {
    inputs_ = board_->take_inputs();
    pump();
    return {};
  }
  void drain(std::function<void()> done) override {
    if (next_ >= inputs_.size()) return done();
    drained_ = std::move(done);
  }

 private:
  void pump() {
    auto& emitter = context_->emitter();
    while (next_ < inputs_.size()) {
      if (emitter.saturated()) return emitter.when_ready([this] { pump(); });
      emitter.emit(std::move(inputs_[next_++]), {});
    }
    if (drained_) std::exchange(drained_, nullptr)();
  }

  std::shared_ptr<DryRunBoard> board_;
  Context* context_ = nullptr;
  std::vector<std::unique_ptr<Event>> inputs_;
  std::size_t next_ = 0;
  std::function<void()> drained_;
};

class CaptureSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override {
    board_ = Boards::instance().find(static_cast<std::uint64_t>(options.integer("board")));
    if (!board_) return invalid_config("no dry-run board");
    name_ = std::string(context.component());
    return {};
  }
  void deliver(EventPtr event, DeliveryCallback done) override {
    board_->capture(name_, std::move(event));
    done({});
  }

 private:
  std::shared_ptr<DryRunBoard> board_;
  std::string name_;
};

constexpr OptionSpec kStubOptions[] = {
    {.name = "meta", .type = OptionType::json, .description = "Members set in the event's meta."},
    {.name = "payload", .type = OptionType::json, .description = "Members set in the event's payload."},
    {.name = "drop", .type = OptionType::boolean, .default_value = "false", .description = "Drop every event."},
};

// Sets each member of `from` (an object) in `into` (made an object), copied. A dotted name
// ("opscord.route") sets a member inside nested objects, made where missing, so that a stub
// can stand for a transform that writes one place (postgres.query's `into:`).
void set_members(rapidjson::Value& into, const rapidjson::Value& from, Event::Allocator& alloc) {
  for (const auto& m : from.GetObject()) {
    rapidjson::Value* target = &into;
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    for (auto dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.')) {
      if (!target->IsObject()) target->SetObject();
      const rapidjson::Value key(name.data(), static_cast<rapidjson::SizeType>(dot), alloc);
      auto it = target->FindMember(key);
      if (it == target->MemberEnd()) {
        target->AddMember(rapidjson::Value(key, alloc), rapidjson::Value(rapidjson::kObjectType), alloc);
        it = target->MemberEnd() - 1;
      }
      target = &it->value;
      name.remove_prefix(dot + 1);
    }
    if (!target->IsObject()) target->SetObject();
    rapidjson::Value value(m.value, alloc);
    const rapidjson::Value key(name.data(), static_cast<rapidjson::SizeType>(name.size()), alloc);
    if (auto it = target->FindMember(key); it != target->MemberEnd()) {
      it->value = std::move(value);
    } else {
      target->AddMember(rapidjson::Value(key, alloc), std::move(value), alloc);
    }
  }
}

class StubTransform final : public Transform {
 public:
  Status configure(const Options& options, Context&) override {
    meta_.CopyFrom(options.json("meta"), meta_.GetAllocator());
    payload_.CopyFrom(options.json("payload"), payload_.GetAllocator());
    drop_ = options.boolean("drop");
    return {};
  }
  Result<Verdict> apply(Event& event) override {
    if (drop_) return Verdict::drop;
    if (meta_.IsObject()) set_members(event.meta, meta_, event.allocator());
    if (payload_.IsObject()) set_members(event.data, payload_, event.allocator());
    return Verdict::keep;
  }
  bool changes_payload() const override { return payload_.IsObject(); }

 private:
  rapidjson::Document meta_;
  rapidjson::Document payload_;
  bool drop_ = false;
};

const ComponentDecl kStubDecl{.kind = ComponentKind::transform,
                              .type = "switchyard.stub",
                              .summary = "Stands in for a transform in `switchyard test`.",
                              .options = kStubOptions,
                              .create = &make_component<StubTransform>};

const ComponentDecl kInputDecl{.kind = ComponentKind::source,
                               .type = "switchyard.input",
                               .summary = "Emits a dry run's input events.",
                               .options = kOptions,
                               .create = &make_component<InputSource>};
const ComponentDecl kCaptureDecl{.kind = ComponentKind::sink,
                                 .type = "switchyard.capture",
                                 .summary = "Records what a sink would receive in a dry run.",
                                 .options = kOptions,
                                 .create = &make_component<CaptureSink>};

// Options {"board": id}, holding the board alive through a custom deleter.
std::shared_ptr<const rapidjson::Document> board_options(const std::shared_ptr<DryRunBoard>& board) {
  const std::uint64_t id = Boards::instance().add(board);
  auto* doc = new rapidjson::Document(rapidjson::kObjectType);
  doc->AddMember("board", static_cast<std::int64_t>(id), doc->GetAllocator());
  return std::shared_ptr<const rapidjson::Document>(doc, [board, id](const rapidjson::Document* d) {
    Boards::instance().remove(id);
    delete d;
  });
}

void fill(config::ComponentConfig& c, const ComponentDecl& decl, std::string name,
          const std::shared_ptr<DryRunBoard>& board) {
  c.decl = &decl;
  c.type = decl.type;
  c.name = std::move(name);
  c.location = "<dry run>";
  c.options = board_options(board);
  c.redacted = c.options;
  c.templates = std::make_shared<config::CompiledTemplates>();
}

}  // namespace

std::vector<std::unique_ptr<Event>> DryRunBoard::take_inputs() {
  std::lock_guard lock(mutex_);
  return std::move(inputs_);
}

void DryRunBoard::capture(const std::string& sink, EventPtr event) {
  std::lock_guard lock(mutex_);
  captured_[sink].push_back(std::move(event));
}

std::vector<EventPtr> DryRunBoard::captured(const std::string& sink) const {
  std::lock_guard lock(mutex_);
  auto it = captured_.find(sink);
  return it == captured_.end() ? std::vector<EventPtr>{} : it->second;
}

const ComponentDecl& dry_run_input_decl() { return kInputDecl; }
const ComponentDecl& dry_run_capture_decl() { return kCaptureDecl; }

config::ComponentConfig dry_run_input(const std::shared_ptr<DryRunBoard>& board) {
  config::ComponentConfig c;
  fill(c, kInputDecl, kInputDecl.type, board);
  return c;
}

config::SinkConfig dry_run_capture(const std::shared_ptr<DryRunBoard>& board, std::string name) {
  config::SinkConfig c = config::default_sink_config();
  fill(c, kCaptureDecl, std::move(name), board);
  return c;
}

Result<config::ComponentConfig> dry_run_stub(std::string name, const rapidjson::Value& spec) {
  if (!spec.IsObject()) return invalid_config("a stub is a map: meta, payload or drop");
  auto options = std::make_shared<rapidjson::Document>();
  std::vector<OptionError> errors;
  normalize_options(kStubOptions, spec, *options, options->GetAllocator(), errors);
  for (const char* key : {"meta", "payload"}) {
    if (auto it = options->FindMember(key); it != options->MemberEnd() && !it->value.IsNull() && !it->value.IsObject()) {
      errors.push_back({key, "expected a map of members to set"});
    }
  }
  if (!errors.empty()) return invalid_config(errors.front().path + ": " + errors.front().message);
  config::ComponentConfig c;
  c.decl = &kStubDecl;
  c.type = kStubDecl.type;
  c.name = std::move(name);
  c.location = "<stub>";
  c.options = options;
  c.redacted = options;
  c.templates = std::make_shared<config::CompiledTemplates>();
  return c;
}

Result<PipelineStats> dry_run(std::shared_ptr<const config::PipelineConfig> config, Services& services,
                              std::chrono::milliseconds settle, std::chrono::milliseconds timeout) {
  auto pipeline = make_pipeline(std::move(config), services);
  Status status = pipeline->build();
  if (status) status = pipeline->start();
  if (!status) return status.error();  // a failed start has stopped what it started
  if (settle.count() > 0) std::this_thread::sleep_for(settle);
  auto drained = std::make_shared<std::promise<void>>();
  auto future = drained->get_future();
  pipeline->drain([drained] { drained->set_value(); });
  const bool finished = future.wait_for(timeout) == std::future_status::ready;
  pipeline->stop();
  if (!finished) {
    return permanent("did not drain within " + std::to_string(timeout.count()) + " ms (" +
                     std::to_string(pipeline->in_flight()) + " event(s) still in flight)");
  }
  return pipeline->stats();
}

}  // namespace switchyard::runtime
