"""The WebSocket endpoint. Thin: authenticate, parse, dispatch through an explicit table, reply.

Rooms, replay and presence arrive with the opening-hall issue; this consumer carries the frame
shape, the error replies and server-time sync that every room builds on.
"""

from __future__ import annotations

import time

from channels.generic.websocket import AsyncWebsocketConsumer

from audit.log import format_time
from common import clock
from common.errors import ErrorCode, PlatformError

from . import frames


async def cmd_time_sync(consumer: "PlatformConsumer", command: frames.Command) -> dict:
    """Server time, so clients show countdowns of the server's clock, never their own."""
    return {"server_time": format_time(clock.now()), "server_ms": int(time.time() * 1000),
            "client_sent": command.payload.get("client_sent")}


async def cmd_ping(consumer: "PlatformConsumer", command: frames.Command) -> dict:
    return {}


COMMANDS = {
    "time.sync": cmd_time_sync,
    "ping": cmd_ping,
}


class PlatformConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept then close with an application code the client can show (4401 = sign in).
            await self.accept()
            await self.close(code=4401)
            return
        await self.accept()
        await self.send(frames.dumps({"v": frames.PROTOCOL_VERSION, "hello": {
            "server_time": format_time(clock.now()), "user": user.get_username(), "role": user.role}}))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        try:
            command = frames.parse_command(text_data)
        except PlatformError as error:
            await self.send(frames.dumps(frames.error_reply(frames.command_id_of(text_data), error)))
            return
        handler = COMMANDS.get(command.cmd)
        if handler is None:
            error = PlatformError(ErrorCode.UNKNOWN_COMMAND, f"unknown command {command.cmd!r}")
            await self.send(frames.dumps(frames.error_reply(command.id, error)))
            return
        try:
            payload = await handler(self, command)
        except PlatformError as error:
            await self.send(frames.dumps(frames.error_reply(command.id, error)))
            return
        await self.send(frames.dumps(frames.ok_reply(command.id, payload)))
