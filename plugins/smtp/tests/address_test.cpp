// Address parsing: what pipelines write is accepted, anything that could end a header line
// or smuggle a second address is refused with a message saying why.
#include <gtest/gtest.h>

#include "address.hpp"

namespace switchyard::smtp {
namespace {

TEST(SmtpAddress, AcceptsTheFormsPipelinesWrite) {
  auto a = parse_address("ops@example.com");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->mailbox, "ops@example.com");
  EXPECT_EQ(a->display, "");

  a = parse_address("  Build Bot <ci@example.com> ");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->display, "Build Bot");
  EXPECT_EQ(a->mailbox, "ci@example.com");

  a = parse_address(R"("Doe, Jane \"JD\"" <jane.doe+ci@mail.example.co.uk>)");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->display, R"(Doe, Jane "JD")");
  EXPECT_EQ(a->mailbox, "jane.doe+ci@mail.example.co.uk");

  a = parse_address("<postmaster@[192.0.2.1]>");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->mailbox, "postmaster@[192.0.2.1]");

  a = parse_address("Jörg Müller <jörg@bücher.example>");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_TRUE(a->needs_smtputf8());
  EXPECT_FALSE(parse_address("ops@example.com")->needs_smtputf8());
  EXPECT_FALSE(parse_address("Jörg <j@example.com>")->needs_smtputf8()) << "a UTF-8 name is RFC 2047-encoded";
}

TEST(SmtpAddress, ListsSplitAtCommasOutsideQuotes) {
  auto list = parse_address_list(R"(a@example.com, "Doe, Jane" <jane@example.com>,b@example.com,)");
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[1].display, "Doe, Jane");
  EXPECT_EQ((*list)[2].mailbox, "b@example.com");
  auto empty = parse_address_list("  ");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(SmtpAddress, RefusesLineBreaksAndControlCharacters) {
  for (const char* text : {"ops@example.com\r\nBcc: attacker@example.com", "ops@example.com\nBcc: x@evil.example",
                           "Name\r\n <ops@example.com>", "ops@exa\rmple.com", "ops@example.com\t",
                           "ops\x01@example.com"}) {
    auto a = parse_address(text);
    ASSERT_FALSE(a) << text;
    EXPECT_EQ(a.error().kind, ErrorKind::permanent);
  }
  auto list = parse_address_list("a@example.com,\r\nBcc: attacker@example.com");
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().message.find("line break"), std::string::npos) << list.error().message;
}

TEST(SmtpAddress, RefusesUnbalancedBracketsAndQuotes) {
  for (const char* text : {"Name <ops@example.com", "ops@example.com>", "<a@example.com> <b@example.com>",
                           "Name <a@example.com> x", "\"Name <ops@example.com>", "<ops@example.com",
                           "a<b@example.com>c@example.com", "Na\"me <ops@example.com>"}) {
    EXPECT_FALSE(parse_address(text)) << text;
  }
}

TEST(SmtpAddress, RefusesWhatIsNotAnAddress) {
  for (const char* text : {"", "ops", "@example.com", "ops@", "ops@@example.com", ".ops@example.com",
                           "o..ps@example.com", "ops.@example.com", "ops@-example.com", "ops@example..com",
                           "o ps@example.com", "ops@exa mple.com", "ops(comment)@example.com",
                           "ops@[192.0.2.1", "ops@example.com (Ops)"}) {
    EXPECT_FALSE(parse_address(text)) << text;
  }
  const std::string long_local(65, 'a');
  EXPECT_FALSE(parse_address(long_local + "@example.com"));
  EXPECT_FALSE(parse_address("ops@" + std::string(64, 'a') + ".com")) << "a label of 64 characters";
  EXPECT_FALSE(parse_address("ops@exam\xff" "ple.com")) << "invalid UTF-8";
}

TEST(SmtpAddress, SameMailboxIgnoresTheDomainsCaseOnly) {
  EXPECT_TRUE(same_mailbox(*parse_address("ops@Example.COM"), *parse_address("Ops team <ops@example.com>")));
  EXPECT_FALSE(same_mailbox(*parse_address("Ops@example.com"), *parse_address("ops@example.com")));
}

}  // namespace
}  // namespace switchyard::smtp
