#!/usr/bin/env python3
"""CDK entry point (cdk.json: ``python3 app.py``). Synthesizes offline: no lookups, no credentials.

Configuration: CDK context keys (``-c envName=prod``), see infra/config.py and docs/infrastructure.md.
"""

from infra.application import create_app


def main() -> None:
    app, _ = create_app()
    app.synth()


if __name__ == "__main__":
    main()
