# Scores rsyslog and syslog-ng against the conformance corpus's expected
# fields, on the fields both peers report in a comparable way: hostname,
# app_name, procid, msgid, structured_data and msg (timestamps are left
# out: the peers complete a missing year and zone from their own clock).
# Peer conventions are mapped to `sinkd parse`'s: "-" and "" are null, the
# sender's address as HOST (a message without hostname) is null, and
# rsyslog's one leading space in an RFC 3164 MSG is dropped. syslog-ng's
# RFC 5424 source answers for messages with a VERSION, its RFC 3164 source
# for the rest.
#   jq -n -f score.jq --slurpfile corpus CORPUS --slurpfile peers PEERS
def norm: if . == "-" or . == "" or . == "127.0.0.1" then null else . end;
def fields($peer; $raw):
  if $peer == null then null else
  {hostname: ($peer.hostname | norm), app_name: ($peer.app_name | norm),
   procid: ($peer.procid | norm), msgid: ($peer.msgid | norm),
   structured_data: ($peer.structured_data | norm),
   msg: ($peer.msg | if type == "string" and startswith(" ") then .[1:] else . end)}
  end;
def five424: test("^(<[0-9]{1,3}>)?[1-9][0-9]{0,2} ");
def agrees($got; $expect):
  $got != null and ([$expect | to_entries[]
    | select(.key | IN("hostname", "app_name", "procid", "msgid", "structured_data", "msg"))
    | $got[.key] == .value] | all);
($peers | map({key: .raw, value: .}) | from_entries) as $by_raw
| [$corpus[] | . as $case | $by_raw[$case.raw] as $p
   | {class, raw,
      rsyslog: agrees(fields($p.rsyslog; .raw); .expect),
      syslog_ng: agrees(fields(if (.raw | five424) then $p.syslog_ng_5424 else $p.syslog_ng end; .raw); .expect)}]
| {cases: length,
   rsyslog: (map(select(.rsyslog)) | length),
   syslog_ng: (map(select(.syslog_ng)) | length),
   peers_disagree: (map(select(.rsyslog != .syslog_ng)) | length),
   by_class: (group_by(.class) | map({class: .[0].class, cases: length,
     rsyslog: (map(select(.rsyslog)) | length), syslog_ng: (map(select(.syslog_ng)) | length)}))}
