"""Quarterly owner evaluation (業主評議): a reproducible stratified sample of households each
quarter, asked in their linked chats (or listed for a phone call), with a status and summary."""
