#include "runtime/component_host.hpp"

#include "runtime/held_payload.hpp"
#include "runtime/io.hpp"

namespace switchyard::runtime {
namespace {

// A transform reads and may change `data`: a payload a source deferred is parsed first. The
// pipeline does that before its transforms; this covers any other way an event gets here.
Status parse_deferred(Event& event) { return event.payload_deferred() ? unshelve_payload(event) : Status{}; }

}  // namespace

ComponentHost::ComponentHost(const config::ComponentConfig& config, std::string label)
    : config_(&config), label_(std::move(label)) {}

ComponentHost::~ComponentHost() = default;
ComponentHost::ComponentHost(ComponentHost&&) noexcept = default;
ComponentHost& ComponentHost::operator=(ComponentHost&&) noexcept = default;

template <class F>
Status ComponentHost::guarded(const char* what, F&& call) {
  try {
    Status status = call();
    if (!status) {
      Error e = status.error();
      e.message = label_ + ": " + what + " failed: " + e.message;
      return e;
    }
    return {};
  } catch (const std::exception& ex) {
    return permanent(label_ + ": " + what + " threw: " + ex.what());
  } catch (...) {
    return permanent(label_ + ": " + what + " threw a non-standard exception");
  }
}

Status ComponentHost::configure(const std::string& pipeline, Strand strand, Services& services, Emitter& emitter,
                                Replies& replies, bool durable_state, std::shared_ptr<DropBook> drops) {
  context_ = std::make_unique<ComponentContext>(pipeline, config_->name, label_, std::move(strand), services,
                                                emitter, replies, durable_state, std::move(drops));
  options_ = std::make_unique<Options>(*config_->options, config_->decl->options, config_->templates.get());
  return run_on(context_->strand(), [&] {
    return guarded("configure", [&]() -> Status {
      component_ = config_->decl->create();
      if (!component_) return permanent("factory returned nothing");
      if (config_->decl->kind == ComponentKind::transform) {
        async_ = static_cast<Transform&>(*component_).asynchronous();
        split_ = static_cast<Transform&>(*component_).splitting();
      }
      if (Status s = component_->configure(*options_, *context_); !s) return s;
      if (config_->decl->kind == ComponentKind::transform) {
        changes_payload_ = static_cast<const Transform&>(*component_).changes_payload();
      }
      if (config_->decl->kind == ComponentKind::sink) {
        reads_payload_ = static_cast<const Sink&>(*component_).reads_payload();
      }
      return Status{};
    });
  });
}

Status ComponentHost::start() {
  return run_on(context_->strand(), [&] { return guarded("start", [&] { return component_->start(); }); });
}

void ComponentHost::drain(std::function<void()> done) {
  // The component may call `done` and then throw: it runs once either way.
  auto once = std::make_shared<std::function<void()>>(std::move(done));
  auto finish = [once] {
    if (auto f = std::exchange(*once, nullptr)) f();
  };
  Status s = guarded("drain", [&] {
    component_->drain(finish);
    return Status{};
  });
  if (!s) {
    context_->logger().error(s.error().message + "; stopping it without waiting");
    finish();
  }
}

void ComponentHost::stop() {
  if (!component_) return;
  run_on(context_->strand(), [&] {
    Status s = guarded("stop", [&] {
      component_->stop();
      return Status{};
    });
    if (!s) context_->logger().error(s.error().message);
    context_->close();
  });
}

Result<Verdict> ComponentHost::apply(Event& event) {
  if (Status s = parse_deferred(event); !s) return s.error();
  if (changes_payload_) event.clear_raw_data();
  try {
    return static_cast<Transform&>(*component_).apply(event);
  } catch (const std::exception& ex) {
    return permanent(std::string("threw: ") + ex.what());
  } catch (...) {
    return permanent("threw a non-standard exception");
  }
}

Result<Events> ComponentHost::split(Event& event) {
  if (Status s = parse_deferred(event); !s) return s.error();
  if (changes_payload_) event.clear_raw_data();
  try {
    return split_->split(event);
  } catch (const std::exception& ex) {
    return permanent(std::string("threw: ") + ex.what());
  } catch (...) {
    return permanent("threw a non-standard exception");
  }
}

void ComponentHost::process(Event& event, TransformCallback done) {
  if (Status s = parse_deferred(event); !s) return done(s.error());
  if (changes_payload_) event.clear_raw_data();
  // `done` may have run before the exception: the caller's callback ignores a second call.
  try {
    async_->process(event, done);
  } catch (const std::exception& ex) {
    done(permanent(std::string("threw: ") + ex.what()));
  } catch (...) {
    done(permanent("threw a non-standard exception"));
  }
}

void ComponentHost::deliver(EventPtr event, DeliveryCallback done) {
  try {
    static_cast<Sink&>(*component_).deliver(std::move(event), done);
  } catch (const std::exception& ex) {
    done(permanent(std::string("deliver threw: ") + ex.what()));
  } catch (...) {
    done(permanent("deliver threw a non-standard exception"));
  }
}

}  // namespace switchyard::runtime
