"""SFT then DPO fine-tuning with TRL + PEFT, the same on a laptop CPU and a SageMaker training job."""
