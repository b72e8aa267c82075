"""The dialogue engine: loads a conversation under a lock, asks the NLU, picks the next action,
runs rasa_sdk actions, applies their events and stores everything. It never knows the channel."""
