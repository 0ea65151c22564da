# 001 grant-events, "WebSocket Endpoint > Python". One change the installed package forces: Debian's
# python3-websockets 10.4 calls the option extra_headers (additional_headers is the name in websockets 14+).
import asyncio
import json
import os
import websockets

async def listen():
    uri = "wss://api.grantex.dev/v1/events/ws"
    headers = {"Authorization": f"Bearer {os.environ['GRANTEX_API_KEY']}"}

    async with websockets.connect(uri, extra_headers=headers) as ws:
        async for message in ws:
            event = json.loads(message)
            print(event["type"], event["data"])

asyncio.run(listen())
