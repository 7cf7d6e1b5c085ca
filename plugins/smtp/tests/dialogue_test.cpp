// The SMTP dialogue as curl reports it (a trace of curl 7.88 against aiosmtpd): replies are
// assigned to their commands, per recipient; capabilities read; credentials never kept.
#include <gtest/gtest.h>

#include "dialogue.hpp"

namespace switchyard::smtp {
namespace {

struct Feed {
  Outcome outcome;
  Capabilities capabilities;
  Transcript transcript{outcome, capabilities};
  Feed& out(std::string_view line) {
    transcript.command(line);
    return *this;
  }
  Feed& in(std::string_view lines) {
    transcript.reply(lines);
    return *this;
  }
};

TEST(SmtpDialogue, RepliesGoToTheirCommandsAndRecipients) {
  Feed f;
  f.in("220 smtp.test switchyard-test-smtp\r\n")
      .out("EHLO build-host\r\n")
      .in("250-smtp.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250 HELP\r\n")
      .out("STARTTLS\r\n")
      .in("220 Ready to start TLS\r\n")
      .out("EHLO build-host\r\n")
      .in("250-smtp.test\r\n250-SIZE 33554432\r\n250-SMTPUTF8\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n")
      .out("AUTH PLAIN\r\n")
      .in("334 \r\n")
      .out("AHNlY3JldC11c2VyAHNlY3JldC1wYXNzd29yZA==\r\n")
      .in("235 2.7.0 Authentication successful\r\n")
      .out("MAIL FROM:<ci@example.com> SIZE=612\r\n")
      .in("250 OK\r\n")
      .out("RCPT TO:<ok@example.com>\r\n")
      .in("250 2.1.5 OK\r\n")
      .out("RCPT TO:<gone@example.com>\r\n")
      .in("550 5.1.1 <gone@example.com>: Recipient address rejected:\r\n")
      .out("DATA\r\n")
      .in("354 End data with <CR><LF>.<CR><LF>\r\n")
      .in("250 2.0.0 OK queued as 4F2A\r\n");
  const Outcome& o = f.outcome;
  ASSERT_EQ(o.recipients.size(), 2u);
  EXPECT_EQ(o.recipients[0].first, "ok@example.com");
  EXPECT_EQ(o.recipients[0].second.code, 250);
  EXPECT_EQ(o.recipients[1].first, "gone@example.com");
  EXPECT_EQ(o.recipients[1].second.line(), "550 5.1.1 <gone@example.com>: Recipient address rejected:");
  EXPECT_EQ(o.final_reply.line(), "250 2.0.0 OK queued as 4F2A");
  EXPECT_EQ(o.failed_step, "") << "a refused RCPT is the recipient's, not the transaction's";
  EXPECT_TRUE(f.capabilities.known);
  EXPECT_TRUE(f.capabilities.smtputf8);
  EXPECT_TRUE(f.capabilities.auth_offered);
  EXPECT_TRUE(f.capabilities.auth_plain_or_login);
  EXPECT_FALSE(f.capabilities.starttls) << "the EHLO after STARTTLS is the one that counts";
  EXPECT_EQ(f.capabilities.size_limit, 33554432u);
  EXPECT_TRUE(f.transcript.any_reply());
}

TEST(SmtpDialogue, TheFirstRefusalNamesItsStep) {
  Feed f;
  f.in("220 ready\r\n").out("EHLO h\r\n").in("250-x\r\n250 AUTH=LOGIN\r\n").out("AUTH LOGIN\r\n").in("334 VXNlcm5hbWU6\r\n");
  f.out("Y2ktdXNlcg==\r\n").in("334 UGFzc3dvcmQ6\r\n").out("d3Jvbmc=\r\n").in("535 5.7.8 Authentication credentials invalid\r\n");
  f.out("QUIT\r\n").in("221 Bye\r\n");
  EXPECT_EQ(f.outcome.failed_step, "AUTH") << "the credential lines count as AUTH";
  EXPECT_EQ(f.outcome.failed_reply.line(), "535 5.7.8 Authentication credentials invalid");
  EXPECT_TRUE(f.capabilities.auth_plain_or_login) << "the old AUTH=LOGIN form";
}

TEST(SmtpDialogue, AReusedConnectionKeepsItsCapabilitiesAndTheEndOfDataIsTheMessagesReply) {
  Feed first;
  first.in("220 ready\r\n").out("EHLO h\r\n").in("250-x\r\n250 SMTPUTF8\r\n");
  Outcome second_outcome;
  Transcript second(second_outcome, first.capabilities);  // next message, same connection
  second.command("MAIL FROM:<a@example.com>\r\n");
  second.reply("250 OK\r\n");
  second.command("RCPT TO:<b@example.com>\r\n");
  second.reply("250 OK\r\n");
  second.command("DATA\r\n");
  second.reply("354 go ahead\r\n");
  second.reply("451 4.3.0 Try again later\r\n");
  EXPECT_TRUE(first.capabilities.smtputf8);
  EXPECT_EQ(second_outcome.failed_step, "end of data");
  EXPECT_EQ(second_outcome.final_reply.code, 451);
  Outcome third_outcome;
  Transcript third(third_outcome, first.capabilities);
  third.reply("220 a new connection\r\n");
  EXPECT_FALSE(first.capabilities.known) << "a greeting starts a new connection: capabilities are read again";
}

TEST(SmtpDialogue, LongRepliesAreCutAndNoiseIsIgnored) {
  Feed f;
  f.out("MAIL FROM:<a@example.com>\r\n").in("no code here\r\n").in("554-" + std::string(400, 'x') + "\r\n554 end\r\n");
  EXPECT_EQ(f.outcome.failed_step, "MAIL");
  EXPECT_EQ(f.outcome.failed_reply.code, 554);
  EXPECT_EQ(f.outcome.failed_reply.text.size(), 300u);
}

}  // namespace
}  // namespace switchyard::smtp
