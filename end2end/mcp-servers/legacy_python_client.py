"""A legacy HTTP+SSE MCP client: the Python `mcp` SDK 1.0, which speaks protocol 2024-11-05
only and refuses any other version in the initialize answer. For the gateway tests
(server/tests/gateway_fidelity.rs): connects to URL, lists the tools, calls each tool named on
the command line with {"text": "<name>"}, and prints one JSON object with what it saw.

Usage: python legacy_python_client.py URL [TOOL...]
"""

import asyncio
import json
import sys

import anyio

from mcp import ClientSession
from mcp.client.sse import sse_client


async def drain(session):
    # SDK 1.0 hands each notification (such as tools/list_changed) to `incoming_messages` and
    # reads no further message until someone takes it, so a client must keep reading them.
    async for _ in session.incoming_messages:
        pass


async def main(url, calls):
    async with sse_client(url) as (read, write):
        async with ClientSession(read, write) as session, anyio.create_task_group() as tasks:
            tasks.start_soon(drain, session)
            init = await session.initialize()
            listed = await session.list_tools()
            results = {}
            for name in calls:
                result = await session.call_tool(name, {"text": name})
                texts = [c.text for c in result.content if c.type == "text"]
                results[name] = {"isError": bool(result.isError), "text": " ".join(texts)}
            print(json.dumps({
                "protocolVersion": init.protocolVersion,
                "tools": [tool.name for tool in listed.tools],
                "results": results,
            }))
            tasks.cancel_scope.cancel()


asyncio.run(main(sys.argv[1], sys.argv[2:]))
