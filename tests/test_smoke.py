from conftest import echo_command


async def test_create_ready(api):
    code, view = await api("POST", "services", {"name": "echo", "command": echo_command()}, wait=20)
    assert code == 201, view
    assert view["status"]["state"] == "ready", view
