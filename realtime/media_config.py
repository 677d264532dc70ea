"""The media server's configuration, rendered from the platform's settings (docs/media.md).

Janus (Debian's ``janus``) is started with a configuration folder this module writes, never with
``/etc/janus``: ``manage.py janus_config --out DIR`` then ``janus -C DIR/janus.jcfg -F DIR``. What
it sets, and why:

- **signed tokens** (``token_auth`` with ``token_auth_secret``): every Janus request carries a token
  the platform signed (``crypto.media_tokens``) for a short time, for the VideoRoom plugin and one
  room; the VideoRoom rooms the platform creates require it (``signed_tokens``), so a room id alone
  opens nothing;
- only the VideoRoom plugin and the WebSocket and HTTP transports are loaded; the HTTP API (the
  platform's own calls: creating, listing and destroying rooms) listens on 127.0.0.1 only, and the
  VideoRoom's ``admin_key`` keeps room creation to the platform;
- string room ids (``string_ids``: a room is named by the platform's room, ``eval.12.``);
- the RTP port range, the STUN/TURN server (coturn) and the recordings folder;
- with ``MEDIA_EVENTS_URL``, the VideoRoom's events posted to the platform (the sample HTTP event
  handler, Basic auth with ``MEDIA_EVENTS_SECRET``): senders are checked as they publish.

Pure: text in, text out; the command writes the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

LIB = "/usr/lib/x86_64-linux-gnu/janus"
PLUGINS_KEPT = ("libjanus_videoroom.so",)
PLUGINS_ALL = ("libjanus_audiobridge.so", "libjanus_duktape.so", "libjanus_echotest.so",
               "libjanus_lua.so", "libjanus_nosip.so", "libjanus_recordplay.so", "libjanus_sip.so",
               "libjanus_streaming.so", "libjanus_textroom.so", "libjanus_videocall.so",
               "libjanus_videoroom.so", "libjanus_voicemail.so")
EVENT_HANDLERS = ("libjanus_gelfevh.so", "libjanus_mqttevh.so", "libjanus_nanomsgevh.so",
                  "libjanus_rabbitmqevh.so", "libjanus_sampleevh.so", "libjanus_wsevh.so")
EVENT_HANDLER_KEPT = "libjanus_sampleevh.so"  # HTTP POSTs to the platform (MEDIA_EVENTS_URL)
TRANSPORTS_DISABLED = ("libjanus_mqtt.so", "libjanus_nanomsg.so", "libjanus_pfunix.so",
                       "libjanus_rabbitmq.so")


@dataclass(frozen=True)
class JanusSetup:
    folder: str  # where the configuration is written (and Janus's pid/log when asked)
    token_secret: str  # MEDIA_TOKEN_SECRET: signs the media tokens (HMAC)
    admin_key: str  # MEDIA_ADMIN_KEY: the VideoRoom's key for creating rooms
    ws_port: int = 8188  # the browsers' WebSocket API (behind the proxy in production)
    ws_interface: str = "127.0.0.1"
    http_port: int = 8088  # the platform's own HTTP API calls, 127.0.0.1 only
    rtp_ports: tuple[int, int] = (20000, 40000)
    recordings: str = ""  # MEDIA_RECORDINGS_DIR
    nat_ip: str = ""  # the public address to advertise (1:1 NAT), when behind one
    stun: str = ""  # host:port of coturn's STUN
    ice_ignore: tuple[str, ...] = field(default=("vmnet", "docker", "veth"))
    events_url: str = ""  # MEDIA_EVENTS_URL: the platform's endpoint Janus posts VideoRoom events to
    events_secret: str = ""  # MEDIA_EVENTS_SECRET: its Basic password (user "janus")


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # libconfig strings: double-quoted, JSON escapes


def render(setup: JanusSetup) -> dict[str, str]:
    """File name → text of the configuration folder."""
    if not setup.token_secret or not setup.admin_key:
        raise ValueError("the media token secret and the room admin key are required")
    disabled = [p for p in PLUGINS_ALL if p not in PLUGINS_KEPT]
    events = bool(setup.events_url)
    if events and not setup.events_secret:
        raise ValueError("the media events URL needs MEDIA_EVENTS_SECRET")
    stun_host, _, stun_port = setup.stun.partition(":")
    nat = [f"\tice_ignore_list = {_q(','.join(setup.ice_ignore))}"]
    if stun_host:
        nat += [f"\tstun_server = {_q(stun_host)}", f"\tstun_port = {int(stun_port or 3478)}"]
    if setup.nat_ip:
        nat.append(f"\tnat_1_1_mapping = {_q(setup.nat_ip)}")
    janus = "\n".join([
        "# Rendered by `manage.py janus_config` from the platform's settings; do not edit by hand.",
        "general: {",
        f"\tconfigs_folder = {_q(setup.folder)}",
        f"\tplugins_folder = {_q(LIB + '/plugins')}",
        f"\ttransports_folder = {_q(LIB + '/transports')}",
        f"\tevents_folder = {_q(LIB + '/events')}",
        f"\tloggers_folder = {_q(LIB + '/loggers')}",
        "\tdebug_level = 3",
        "\ttoken_auth = true",
        f"\ttoken_auth_secret = {_q(setup.token_secret)}",
        "\tsession_timeout = 60",
        "\thide_dependencies = true",
        "\tserver_name = \"kaibiao-media\"",
        "}",
        "certificates: {",
        "}",
        "media: {",
        f"\trtp_port_range = \"{setup.rtp_ports[0]}-{setup.rtp_ports[1]}\"",
        "}",
        "nat: {",
        *nat,
        "}",
        "plugins: {",
        f"\tdisable = {_q(','.join(disabled))}",
        "}",
        "transports: {",
        f"\tdisable = {_q(','.join(TRANSPORTS_DISABLED))}",
        "}",
        "loggers: {",
        "\tdisable = \"libjanus_jsonlog.so\"",
        "}",
        "events: {",
        f"\tbroadcast = {'true' if events else 'false'}",
        f"\tdisable = {_q(','.join(p for p in EVENT_HANDLERS if not (events and p == EVENT_HANDLER_KEPT)))}",
        "}",
        "",
    ])
    videoroom = "\n".join([
        "general: {",
        f"\tadmin_key = {_q(setup.admin_key)}",
        "\tlock_rtp_forward = true",
        "\tstring_ids = true",
        f"\tevents = {'true' if events else 'false'}",
        "}",
        "",
    ])
    websockets = "\n".join([
        "general: {",
        "\tjson = \"plain\"",
        "\tws = true",
        f"\tws_port = {setup.ws_port}",
        f"\tws_interface = {_q(setup.ws_interface)}",
        "\twss = false",
        "}",
        "admin: {",
        "\tadmin_ws = false",
        "\tadmin_wss = false",
        "}",
        "",
    ])
    http = "\n".join([
        "general: {",
        "\tjson = \"plain\"",
        "\tbase_path = \"/janus\"",
        "\thttp = true",
        f"\tport = {setup.http_port}",
        "\tinterface = \"lo\"",
        "\thttps = false",
        "}",
        "admin: {",
        "\tadmin_http = false",
        "\tadmin_https = false",
        "}",
        "",
    ])
    files = {"janus.jcfg": janus, "janus.plugin.videoroom.jcfg": videoroom,
             "janus.transport.websockets.jcfg": websockets, "janus.transport.http.jcfg": http}
    if events:
        # The VideoRoom's events (a sender published, left) posted to the platform as they happen
        # (realtime/media_events.py): a sender the platform did not grant is kicked at once, not at
        # the next patrol round.
        files["janus.eventhandler.sampleevh.jcfg"] = "\n".join([
            "general: {",
            "\tenabled = true",
            "\tevents = \"plugins\"",
            "\tgrouping = true",
            "\tjson = \"plain\"",
            f"\tbackend = {_q(setup.events_url)}",
            "\tbackend_user = \"janus\"",
            f"\tbackend_pwd = {_q(setup.events_secret)}",
            "\tmax_retransmissions = 5",
            "\tretransmissions_backoff = 100",
            "}",
            "",
        ])
    return files
