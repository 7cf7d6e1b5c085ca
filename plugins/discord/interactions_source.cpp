#include "interactions_source.hpp"

#include <sodium.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>

#include "common/json_limits.hpp"
#include "switchyard/time.hpp"

namespace switchyard::discord {
namespace {

using std::chrono::milliseconds;

constexpr OptionSpec kOptions[] = {
    {.name = "path", .type = OptionType::string, .default_value = "/discord/interactions",
     .description = "Route on the shared listener: the application's Interactions Endpoint URL.", .route = true},
    {.name = "public_key", .type = OptionType::string, .required = true,
     .description = "The application's public key (General Information → Public Key, 64 hex "
                    "digits). Requests not signed with its private key are refused with 401.",
     .example = "${DISCORD_PUBLIC_KEY}"},
    {.name = "max_age", .type = OptionType::duration, .default_value = "5m",
     .description = "How far X-Signature-Timestamp may be from the engine's clock, either way; "
                    "older requests are refused as replays, and an interaction id seen within "
                    "twice this is answered as a duplicate, not emitted again."},
    {.name = "ephemeral", .type = OptionType::boolean, .default_value = "false",
     .description = "Deferred answers to commands are seen only by the user who ran them."},
    {.name = "reply_within", .type = OptionType::duration, .default_value = "0s",
     .description = "How long a slash command waits for the pipeline's answer from discord.reply "
                    "(or a reply sink giving a Discord message: {content: ...}). Discord allows 3 s; "
                    "2s leaves room for the network. Past it, or with 0, the command is answered "
                    "\"thinking…\" and discord.reply sends a follow-up. Use durability: memory "
                    "for answers this quick."},
    {.name = "fallback_reply", .type = OptionType::string,
     .default_value = "Nothing to report for that.",
     .description = "What a slash command waiting for its answer (reply_within above 0) is "
                    "answered, seen only by its user, when the pipeline is through with it and "
                    "nothing answered: a transform dropped it, no sink's if: took it, or every "
                    "sink finished without replying. Empty: it gets \"thinking…\" as when no "
                    "answer comes in time. With reply_within 0 the command is answered "
                    "\"thinking…\" at once and any answer is the pipeline's follow-up."},
    {.name = "max_body", .type = OptionType::size, .default_value = "1MiB",
     .description = "Largest request accepted."},
};

// Interaction types and callback types (discord.com/developers/docs/interactions/receiving-and-responding).
constexpr int kPing = 1, kCommand = 2, kComponent = 3, kAutocomplete = 4, kModal = 5;
constexpr int kPong = 1, kChannelMessage = 4, kDeferredMessage = 5, kDeferredUpdate = 6, kAutocompleteResult = 8;
constexpr int kEphemeralFlag = 1 << 6;

std::optional<std::array<unsigned char, 64>> parse_signature(std::string_view hex) {
  std::array<unsigned char, 64> out{};
  std::size_t written = 0;
  if (hex.size() != 128 ||
      sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, nullptr) != 0 ||
      written != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string member_string(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                          : std::string();
}

// The event type of a slash command: discord.command.<name> (discord.command.stats), as
// pipelines route on it. Discord's command names are 1-32 lowercase letters (any script),
// digits, '-' or '_'; a name with a '.', a space or a control character, or none, leaves
// the type discord.command.
std::string command_type(std::string_view name) {
  constexpr std::size_t kMaxNameBytes = 32 * 4;  // 32 characters of UTF-8
  const bool usable = !name.empty() && name.size() <= kMaxNameBytes &&
                      std::none_of(name.begin(), name.end(), [](char c) {
                        const auto b = static_cast<unsigned char>(c);
                        return b <= 0x20 || b == 0x7f || c == '.';
                      });
  return usable ? "discord.command." + std::string(name) : std::string("discord.command");
}

// Who ran the interaction: the username (member.user in a guild, user in a DM), else the id.
std::string invoker(const rapidjson::Value& interaction) {
  for (const char* holder : {"member", "user"}) {
    auto it = interaction.FindMember(holder);
    if (it == interaction.MemberEnd() || !it->value.IsObject()) continue;
    const rapidjson::Value& user =
        std::string_view(holder) == "member" && it->value.HasMember("user") ? it->value["user"] : it->value;
    for (const char* field : {"username", "id"}) {
      if (std::string value = member_string(user, field); !value.empty()) return value;
    }
  }
  return {};
}

// `switchyard send discord FILE`: a request this source accepts when configured with the
// signing key's public key (kTestPublicKey for `--secret test`).
constexpr RequestSigner kSigner{.service = "discord",
                                .default_path = "/discord/interactions",
                                .secret_variable = "DISCORD_PRIVATE_KEY",
                                .sign = &sign_interaction};

}  // namespace

const ComponentDecl kInteractionsSourceDecl{
    .kind = ComponentKind::source,
    .type = "discord.interactions",
    .summary = "A Discord application's Interactions Endpoint: verifies the Ed25519 signature "
               "(libsodium) within a replay window, answers PING, acknowledges slash commands, "
               "components and modals at once with a deferred response and emits them "
               "(discord.command.<name> with the user as subject, discord.component and "
               "discord.modal with the custom_id as subject) for a follow-up message.",
    .options = kOptions,
    .create = &make_component<InteractionsSource>,
    .signer = &kSigner,
};

Status sign_interaction(std::string_view private_key, std::string_view, HttpClientRequest& request) {
  if (sodium_init() < 0) return permanent("libsodium could not be initialised");
  const std::string_view hex = private_key == "test" ? kTestSeed : private_key;
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  std::size_t written = 0;
  if (hex.size() != 2 * seed.size() ||
      sodium_hex2bin(seed.data(), seed.size(), hex.data(), hex.size(), nullptr, &written, nullptr) != 0 ||
      written != seed.size()) {
    return permanent("the private key must be an Ed25519 seed, 64 hex digits, or 'test' (the test key pair, "
                     "public key " + std::string(kTestPublicKey) + ")");
  }
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> sk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  const std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const std::string message = timestamp + request.body;
  std::array<unsigned char, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       sk.data());
  sodium_memzero(sk.data(), sk.size());
  sodium_memzero(seed.data(), seed.size());
  std::array<char, 2 * crypto_sign_BYTES + 1> signature_hex{};
  sodium_bin2hex(signature_hex.data(), signature_hex.size(), signature.data(), signature.size());
  request.headers.set("Content-Type", "application/json");
  if (!request.headers.get("User-Agent")) request.headers.set("User-Agent", "Discord-Interactions/1.0 (switchyard send)");
  request.headers.set("X-Signature-Timestamp", timestamp);
  request.headers.set("X-Signature-Ed25519", signature_hex.data());
  return {};
}

std::optional<PublicKey> parse_public_key(std::string_view hex) {
  PublicKey out{};
  std::size_t written = 0;
  if (hex.size() != 64 ||
      sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, nullptr) != 0 ||
      written != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> refuse(const PublicKey& key, std::optional<std::string_view> signature,
                                  std::optional<std::string_view> timestamp, std::string_view body,
                                  std::chrono::system_clock::time_point now, milliseconds max_age) {
  if (!signature || !timestamp) return std::string("missing X-Signature-Ed25519 or X-Signature-Timestamp");
  const auto sig = parse_signature(*signature);
  if (!sig) return std::string("X-Signature-Ed25519 is not 128 hex digits");
  std::string message(*timestamp);
  message.append(body);
  if (crypto_sign_verify_detached(sig->data(), reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size(), key.data()) != 0) {
    return std::string("invalid request signature");
  }
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(timestamp->data(), timestamp->data() + timestamp->size(), seconds);
  if (timestamp->empty() || ec != std::errc() || end != timestamp->data() + timestamp->size()) {
    return std::string("X-Signature-Timestamp is not a number of seconds");
  }
  if (!unix_seconds_within(seconds, now, max_age)) {
    return std::string("X-Signature-Timestamp is more than max_age away: a replay, or a clock off");
  }
  return std::nullopt;
}

Status InteractionsSource::configure(const Options& options, Context& context) {
  if (sodium_init() < 0) return invalid_config("libsodium could not be initialised");
  auto p = std::make_shared<InteractionsProtocol>();
  intake::EndpointOptions endpoint{.path = std::string(options.string("path")), .max_body = options.size("max_body")};
  if (endpoint.path.empty() || endpoint.path.front() != '/') return invalid_config("path: must start with '/'");
  const auto key = parse_public_key(options.string("public_key"));
  if (!key) return invalid_config("public_key: must be the application's public key, 64 hex digits");
  p->key = *key;
  if (*key == parse_public_key(kTestPublicKey)) {
    context.logger().warn("public_key is switchyard's published test key (switchyard send discord --secret test): "
                          "anyone can sign requests this source accepts; for local testing only");
  }
  p->max_age = options.duration("max_age");
  if (p->max_age <= milliseconds(0) || p->max_age > std::chrono::hours(1)) {
    return invalid_config("max_age: must be more than 0 and at most 1h (it is the replay window)");
  }
  p->ephemeral = options.boolean("ephemeral", false);
  p->fallback_reply = std::string(options.string("fallback_reply"));
  if (p->fallback_reply.size() > 2000) return invalid_config("fallback_reply: at most 2000 characters (Discord's limit)");
  p->reply_within = options.duration("reply_within");
  if (p->reply_within > milliseconds(2900)) {
    return invalid_config("reply_within: at most 2900ms (Discord drops interactions not answered within 3 s)");
  }
  // A signed request replayed within max_age (either way of the clock) is answered as a
  // duplicate, not run again: interaction ids are remembered for twice that.
  endpoint.redelivery_window = 2 * p->max_age;
  endpoint.redelivery_prefix = "interaction/";
  endpoint_.configure(context, std::move(p), std::move(endpoint));
  return {};
}

std::optional<std::string> InteractionsProtocol::verify(const HttpRequest& request) const {
  // Discord sends deliberately bad signatures when the endpoint is registered, and expects 401.
  return refuse(key, request.headers.get("X-Signature-Ed25519"), request.headers.get("X-Signature-Timestamp"),
                request.body, std::chrono::system_clock::now(), max_age);
}

intake::Admission InteractionsProtocol::admit(const HttpRequest& request) const {
  using intake::Admission;
  auto event = std::make_unique<Event>();
  if (!json_limits::parse(event->data, request.body) || !event->data.IsObject()) {
    return Admission::refuse(400, "body is not a JSON object");
  }
  // The token answers the interaction for 15 minutes: with the event in memory only.
  if (auto token = event->data.FindMember("token"); token != event->data.MemberEnd()) {
    if (token->value.IsString()) {
      event->set_secret(kTokenSecret, std::string(token->value.GetString(), token->value.GetStringLength()));
    }
    event->data.EraseMember(token);
  }
  const rapidjson::Value& data = event->data;
  auto type_it = data.FindMember("type");
  const int type = type_it != data.MemberEnd() && type_it->value.IsInt() ? type_it->value.GetInt() : 0;
  if (type == kPing) return Admission::respond(HttpResponse::json(200, "{\"type\":" + std::to_string(kPong) + "}"));
  if (type == kAutocomplete) {
    // Suggestions must come within 3 s from this answer; a pipeline cannot give them.
    return Admission::respond(HttpResponse::json(200, "{\"type\":8,\"data\":{\"choices\":[]}}"));
  }
  const rapidjson::Value* inner = data.HasMember("data") ? &data["data"] : nullptr;
  std::string kind, subject;
  if (type == kCommand) {
    kind = command_type(inner ? member_string(*inner, "name") : std::string());
    subject = invoker(data);
  } else if (type == kComponent || type == kModal) {
    kind = type == kComponent ? "discord.component" : "discord.modal";
    subject = inner ? member_string(*inner, "custom_id") : std::string();
  } else {
    return Admission::refuse(400, "unknown interaction type " + std::to_string(type));
  }
  std::string id = member_string(data, "id");
  if (id.empty() || id.size() > 64) return Admission::refuse(400, "interaction without an id");
  const std::string guild = member_string(data, "guild_id");
  event->id = std::move(id);
  event->type = std::move(kind);
  event->subject = std::move(subject);
  event->source = guild.empty() ? "https://discord.com" : "https://discord.com/guilds/" + guild;
  event->time = std::chrono::system_clock::now();
  // A command gets "thinking…" until the follow-up; a component keeps its message as is.
  const int callback = type == kComponent ? kDeferredUpdate : kDeferredMessage;
  std::string deferred = "{\"type\":" + std::to_string(callback);
  if (ephemeral && type != kComponent) deferred += ",\"data\":{\"flags\":" + std::to_string(kEphemeralFlag) + "}";
  deferred += "}";
  Admission admission;
  admission.event = std::move(event);
  admission.answer = HttpResponse::json(200, std::move(deferred));
  if (type == kCommand) admission.reply_within = reply_within;
  admission.redelivery = true;
  return admission;
}

HttpResponse InteractionsProtocol::replied(Reply reply) const {
  // The reply is a message object ({"content": ..., "embeds": [...]}); an empty body still
  // answers the interaction, with Discord's own "empty message" error shown to the user.
  std::string body = reply.body.empty() ? std::string("{}") : std::move(reply.body);
  return HttpResponse::json(200, "{\"type\":" + std::to_string(kChannelMessage) + ",\"data\":" + body + "}");
}

std::optional<HttpResponse> InteractionsProtocol::unanswered() const {
  if (fallback_reply.empty()) return std::nullopt;
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.StartObject();
  w.Key("type");
  w.Int(kChannelMessage);
  w.Key("data");
  w.StartObject();
  w.Key("content");
  w.String(fallback_reply.data(), static_cast<rapidjson::SizeType>(fallback_reply.size()));
  w.Key("flags");
  w.Int(kEphemeralFlag);
  w.Key("allowed_mentions");  // a fallback text never pings anyone
  w.StartObject();
  w.Key("parse");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return HttpResponse::json(200, std::string(out.GetString(), out.GetSize()));
}

}  // namespace switchyard::discord
